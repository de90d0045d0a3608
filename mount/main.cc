// zsfs: mounts a compressed RAM filesystem. See zsfs(8).
#include <cstdio>
#include <exception>
#include <new>

#include "codec/codec.h"
#include "mount/daemon.h"
#include "mount/fuse_api.h"
#include "mount/options.h"

int main(int argc, char** argv) {
  using namespace zsfs::mount;
  try {
    const SystemInfo system = SystemInfo::probe(zsfs::codec::min_level(), zsfs::codec::max_level(),
                                                zsfs::codec::kDefaultLevel);
    CommandLine command = parse_command_line(argc, argv, system);
    switch (command.action) {
      case Action::kHelp:
        std::fputs(usage_text(system).c_str(), stdout);
        return kExitOk;
      case Action::kVersion:
        std::printf("zsfs %s (libfuse %s)\n", ZSFS_VERSION, fuse_pkgversion());
        return kExitOk;
      case Action::kUsageError:
        std::fprintf(stderr, "zsfs: %s\nTry 'zsfs --help' for more information.\n",
                     command.message.c_str());
        return kExitUsage;
      case Action::kMount:
        return run_daemon(command.options);
    }
  } catch (const std::bad_alloc&) {
    std::fputs("zsfs: out of memory\n", stderr);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "zsfs: %s\n", e.what());
  }
  return kExitFailure;
}
