# The Debian package: `cpack -G DEB` in a build folder (the release one: optimised, stripped
# here) writes zsfs_<version>_<arch>.deb with everything `cmake --install` installs, under /usr.
#
# Dependencies: dpkg-shlibdeps (dpkg-dev) finds the shared libraries the two programs link
# (libfuse3-3, libzstd1, libxxhash0, libstdc++6, libc6, ...) with their minimum versions; fuse3 is
# added by hand, since nothing links it: it brings fusermount3 (mounting as a user) and
# /sbin/mount.fuse, which mount(8) runs for type fuse.zsfs (there is no mount.fuse.zsfs). That
# runs `zsfs SOURCE MOUNTPOINT -o OPTIONS` through /bin/sh, whose default PATH holds /usr/bin.
# Included last from the top-level CMakeLists.txt, after every install() rule.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME zsfs)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "RAM filesystem like tmpfs that keeps file data compressed")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # zsfs_0.1.0_amd64.deb
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "zsfs developers <zsfs@localhost>")
set(CPACK_DEBIAN_PACKAGE_SECTION utils)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# The long description; CPack puts the summary above it and indents its lines.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
  "zsfs is a FUSE filesystem that behaves like tmpfs but keeps file data
compressed (zstd) and deduplicated in 4 KiB blocks, in a zsmalloc-style pool,
within a memory budget. zsfsctl shows where the memory goes, as tables, JSON
or Prometheus metrics, and runs compaction and consistency checks.")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "fuse3")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "bash-completion")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

include(CPack)
