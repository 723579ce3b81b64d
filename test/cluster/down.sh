#!/usr/bin/env bash
# Tear the end-to-end cluster down completely (idempotent): every process it
# started (daemons, containers, containerd shims), every mount under its
# state directories, loop devices backed by its files, its cgroups, its
# network namespace (with all its interfaces and iptables rules), and the
# state directories themselves. The build cache ($CACHE) stays.
#
#   down.sh [--quiet]
set -euo pipefail
# shellcheck source=lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
need_root

quiet=0
[ "${1:-}" = --quiet ] && quiet=1
say() { [ "$quiet" = 1 ] || log "$@"; }

# Our daemons: these first (together), then containers, containerd, the API
# server and etcd.
DAEMONS=(api-forward csi-provisioner csi-resizer coredns azurite kube-proxy kubelet
  kube-scheduler kube-controller-manager csi-driver)

# stop NAME...: SIGTERM to all of them at once, up to 10 s, then SIGKILL.
stop() {
  local name pid pids=() names=()
  for name in "$@"; do
    pid=$(cat "$RUN/pids/$name.pid" 2>/dev/null || true)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid")
      names+=("$name")
    fi
    rm -f "$RUN/pids/$name.pid"
  done
  [ ${#pids[@]} -gt 0 ] || return 0
  for _ in $(seq 1 40); do
    alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 1 ] || break
    sleep 0.25
  done
  for pid in "${pids[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      say "pid $pid did not stop, killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  say "stopped ${names[*]}"
}

# Processes of our containers: everything in our cgroup subtree.
kill_containers() {
  local d n=0 pid
  for d in /sys/fs/cgroup/pids/"$CGROUP_ROOT" /sys/fs/cgroup/memory/"$CGROUP_ROOT"; do
    [ -d "$d" ] || continue
    while read -r pid; do
      [ -n "$pid" ] || continue
      kill -KILL "$pid" 2>/dev/null && n=$((n + 1))
    done < <(find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null)
  done
  [ "$n" = 0 ] || say "killed $n container processes"
}

# pids whose command line mentions one of our directories or our containerd
# socket (shims, and daemons whose pid file was lost). Exact paths only.
our_pids() {
  local p cmd
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    [ "$p" = $$ ] && continue
    # stderr first: a process that ends meanwhile must not print a redirection error
    cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline") || continue
    case "$cmd" in
      *" $STATE/"* | *"=$STATE/"* | *" $RUN/"* | *"=$RUN/"* | *"$CONTAINERD_SOCK"*) echo "$p" ;;
    esac
  done
}

stop "${DAEMONS[@]}"
kill_containers
stop containerd
stop kube-apiserver api-forward-in
stop etcd
left=$(our_pids)
if [ -n "$left" ]; then
  say "killing leftover processes: $(echo "$left" | tr '\n' ' ')"
  # shellcheck disable=SC2086
  kill -KILL $left 2>/dev/null || true
  sleep 0.5
fi
kill_containers

# Mounts under our directories, deepest first; lazily if busy.
for pass in 1 2 3 4 5; do
  mounts=$(findmnt -rn -o TARGET | awk -v s="$STATE" -v r="$RUN" 'index($0, s "/") == 1 || $0 == s || index($0, r "/") == 1 || $0 == r' | sort -r)
  [ -n "$mounts" ] || break
  while read -r m; do
    m=$(printf '%b' "$m") # findmnt -r writes \x20 for a space
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done <<<"$mounts"
  [ "$pass" = 1 ] && say "unmounted $(wc -l <<<"$mounts") mounts"
done
if findmnt -rn -o TARGET | grep -qE "^($STATE|$RUN)(/|$)"; then
  die "mounts remain under $STATE or $RUN; not removing them"
fi

# Loop devices backed by our files.
while read -r dev file; do
  case "$file" in
    "$STATE"/*)
      losetup -d "$dev" && say "detached $dev"
      ;;
  esac
done < <(losetup -nl -O NAME,BACK-FILE 2>/dev/null || true)

if ip netns list | awk '{print $1}' | grep -qx "$NETNS"; then
  ip netns del "$NETNS"
  say "deleted network namespace $NETNS (its interfaces and iptables rules)"
fi

# Our cgroups (containers are gone, so they are empty).
for sub in /sys/fs/cgroup/*/"$CGROUP_ROOT"; do
  [ -d "$sub" ] || continue
  find "$sub" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  [ -d "$sub" ] && say "warning: could not remove cgroup $sub"
done

rm -rf --one-file-system "$STATE" "$RUN"
say "cluster removed"
