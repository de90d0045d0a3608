# Shared by the tests/dist scripts (sourced).

# Unmounts $1, retrying for up to 10 s while it is busy (another test walking /tmp can hold it a
# moment); fails only if it stays busy.
unmount() {
  for _ in $(seq 50); do
    umount "$1" 2>/dev/null && return 0
    sleep 0.2
  done
  umount "$1"
}
