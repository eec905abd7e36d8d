#!/usr/bin/env bash
# Runs a command as on a newcomer's machine of this project's kind: no QEMU of the host's on PATH
# (a fresh Debian has none; the lab in a box runs a debootstrapped root's QEMU) and a /dev/kvm that
# exists. Used by test/run/fresh-machine.test.ts and test/slow/first-command.test.ts.
#
#   test/helpers/fresh-machine.sh COMMAND [ARGS...]      (as root)
#
# PATH: the current PATH with every qemu-* taken out (a directory that has one is replaced by a
# directory of symlinks to its other files), so /usr/bin/qemu-system-x86_64 is invisible while
# everything else (node, ip, unshare, debootstrap...) resolves as before.
#
# /dev/kvm: when the machine has one it is used as it is. When it has none, the command runs in a
# mount namespace of its own whose /dev is an overlay of the real one with a /dev/kvm node added:
# KVM's device number (10:232) with no KVM driver behind it, which a QEMU opens and fails on, as a
# KVM that cannot run the guest does. Nothing outside the namespace sees it; it ends with the
# command.
set -euo pipefail
[ "$#" -gt 0 ] || { echo "usage: $0 COMMAND [ARGS...]" >&2; exit 2; }

if [ "${FRESH_MACHINE_INSIDE:-}" != 1 ]; then
  work=$(mktemp -d /tmp/vdpa-bench-fresh.XXXXXX)
  # the mounts exist only inside the namespace: out here $work/ns is an empty directory
  trap 'rm -rf -- "$work"' EXIT
  mkdir "$work/ns"
  # a PATH directory holding a qemu-* is replaced by a directory of symlinks to everything else in
  # it; the others stay as they are, in the same order, so every other name resolves as before
  path=
  n=0
  IFS=: read -ra dirs <<<"$PATH"
  for dir in "${dirs[@]}"; do
    [ -d "$dir" ] || continue
    if compgen -G "$dir/qemu-*" >/dev/null; then
      n=$((n + 1))
      mkdir "$work/bin$n"
      find "$dir/" -maxdepth 1 ! -name 'qemu-*' \( -type f -o -type l \) -exec ln -s -t "$work/bin$n" -- {} +
      dir=$work/bin$n
    fi
    path=${path:+$path:}$dir
  done
  set +e
  FRESH_MACHINE_INSIDE=1 FRESH_MACHINE_WORK="$work" FRESH_MACHINE_PATH="$path" unshare --mount --propagation private -- bash "$0" "$@"
  rc=$?
  set -e
  exit "$rc"
fi

work=$FRESH_MACHINE_WORK
ns=$work/ns
if [ ! -e /dev/kvm ]; then
  mount -t tmpfs fresh-machine "$ns"
  mkdir "$ns/all" "$ns/upper" "$ns/work"
  mount --rbind /dev "$ns/all"
  mount -t overlay fresh-machine-dev -o "lowerdir=$ns/all,upperdir=$ns/upper,workdir=$ns/work" /dev
  # an overlay shows its lower directory's own files only: the mounts below /dev come back by hand
  for sub in pts shm mqueue hugepages; do
    if mountpoint -q "$ns/all/$sub"; then mount --rbind "$ns/all/$sub" "/dev/$sub"; fi
  done
  mknod -m 666 /dev/kvm c 10 232
fi
PATH=$FRESH_MACHINE_PATH
export PATH
unset FRESH_MACHINE_INSIDE FRESH_MACHINE_WORK FRESH_MACHINE_PATH
exec "$@"
