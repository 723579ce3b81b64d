# shellcheck shell=bash
# shellcheck disable=SC2034 # variables used by the scripts that source this file
# Common settings of the end-to-end cluster (sourced by the scripts here).
#
# Layout
#   $CACHE  ${CNPG_DISK_CACHE:-$HOME/.cache/cnpg-disk}  binaries (bin/), image
#           archives (images/), Azurite (azurite-<v>/), shared with test/infra.
#   $STATE  ${CNPG_E2E_STATE:-/var/lib/cnpg-disk-e2e}  everything of one running
#           cluster: PKI, etcd, containerd root, kubelet root, CSI volumes, logs.
#   $RUN    ${CNPG_E2E_RUN:-/run/cnpg-disk-e2e}  sockets, pid files, containerd state.
# down.sh removes $STATE and $RUN entirely; $CACHE stays.
#
# Network: every daemon runs in the network namespace $NETNS (ip netns), which
# has no link to the outside: a dummy interface with the node address, the
# CNI bridge of the pods, and loopback. The only thing exposed on the host is
# the API server, forwarded to 127.0.0.1:$API_PORT through a unix socket.
# Deleting the namespace removes every interface and iptables rule of the cluster.

CLUSTER_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$CLUSTER_DIR/../.." && pwd)
INFRA_DIR=$REPO_DIR/test/infra

# shellcheck source=../infra/versions.env
source "$INFRA_DIR/versions.env"
# shellcheck source=versions.env
source "$CLUSTER_DIR/versions.env"

CACHE=${CNPG_DISK_CACHE:-$HOME/.cache/cnpg-disk}
BIN=$CACHE/bin
IMAGES=$CACHE/images
STATE=${CNPG_E2E_STATE:-/var/lib/cnpg-disk-e2e}
RUN=${CNPG_E2E_RUN:-/run/cnpg-disk-e2e}
for _d in "$STATE" "$RUN"; do
  # down.sh deletes these trees: refuse anything that is not a dedicated directory.
  case "$_d" in
    /*/*) ;;
    *) echo "CNPG_E2E_STATE / CNPG_E2E_RUN must be dedicated absolute directories, got '$_d'" >&2 && exit 2 ;;
  esac
  case "$_d" in /var/lib | /var/run | /run/user | /usr/* | /etc/* | /home | "$HOME")
    echo "refusing to use '$_d' as a cluster state directory" >&2 && exit 2
    ;;
  esac
done
LOGS=$STATE/logs
PKI=$STATE/pki
KUBECONFIG_FILE=$STATE/kubeconfig
FAILED_LOGS=${CNPG_E2E_FAILED_LOGS:-/tmp/cnpg-disk-e2e-failed-logs}

NETNS=${CNPG_E2E_NETNS:-cnpg-disk-e2e}
API_PORT=${CNPG_E2E_API_PORT:-16443}
NODE_NAME=cnpg-e2e-node
NODE_IF=cnpge2e-node
NODE_IP=10.213.0.2
BRIDGE=cnpge2e0
POD_CIDR=10.214.0.0/24
POD_GW=10.214.0.1
SERVICE_CIDR=10.215.0.0/24
KUBERNETES_SVC_IP=10.215.0.1
AZURITE_PORT=10000
CGROUP_ROOT=cnpg-disk-e2e

CONTAINERD_SOCK=$RUN/containerd/containerd.sock
KUBELET_ROOT=$STATE/kubelet
CSI_DRIVER_NAME=tmpfs.csi.cnpg-disk.test
CSI_SOCK=$RUN/csi/csi.sock

# Image names: local only, never pulled (tags are never "latest", so the
# default pull policy IfNotPresent finds them in containerd).
PAUSE_IMAGE=localhost/cnpg-e2e/pause:1.0
OPERATOR_IMAGE=localhost/cnpg-e2e/cloudnative-pg:${CNPG_VERSION#v}

# Binaries built by test/infra/build-k8s.sh and by build.sh here.
k8s_bin() { printf '%s/%s-%s\n' "$BIN" "$1" "$K8S_VERSION"; }
ETCD_BIN=$BIN/etcd-$ETCD_VERSION
CNPG_MANAGER_BIN=$BIN/cnpg-manager-$CNPG_VERSION
PROVISIONER_BIN=$BIN/csi-provisioner-$EXTERNAL_PROVISIONER_VERSION
RESIZER_BIN=$BIN/csi-resizer-$EXTERNAL_RESIZER_VERSION
# Our own modules: the binary name carries a hash of their sources.
src_hash() { (cd "$CLUSTER_DIR/$1" && cat go.mod go.sum ./*.go | sha256sum | cut -c1-12); }
CSI_DRIVER_BIN=$BIN/csi-tmpfs-$(src_hash csi-driver)
COREDNS_BIN=$BIN/coredns-$(src_hash coredns)
AZURITE_DIR=$CACHE/azurite-$AZURITE_VERSION

log() { printf '[%s %s] %s\n' "$(basename "$0" .sh)" "$(date +%H:%M:%S)" "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

need_root() { [ "$(id -u)" = 0 ] || die "must run as root (mounts, network namespaces, cgroups)"; }

# Run a command inside the cluster's network namespace, in the host's mount
# namespace (`ip netns exec` would give each daemon its own mount namespace,
# and kubelet, containerd and the CSI driver must see each other's mounts).
in_netns() { nsenter --net="/run/netns/$NETNS" -- "$@"; }

# Start a daemon in the network namespace, detached, logging to $LOGS/<name>.log.
start_daemon() {
  local name=$1
  shift
  mkdir -p "$LOGS" "$RUN/pids"
  setsid nsenter --net="/run/netns/$NETNS" -- "$@" >>"$LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$RUN/pids/$name.pid"
}

# Same, on the host's network (only the API server forwarder).
start_host_daemon() {
  local name=$1
  shift
  mkdir -p "$LOGS" "$RUN/pids"
  setsid "$@" >>"$LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$RUN/pids/$name.pid"
}

pid_alive() {
  local f=$RUN/pids/$1.pid pid
  [ -f "$f" ] || return 1
  pid=$(cat "$f")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

# wait_for SECONDS DESCRIPTION COMMAND...: poll until COMMAND succeeds.
wait_for() {
  local timeout=$1 what=$2 start=$SECONDS
  shift 2
  until "$@" >/dev/null 2>&1; do
    if [ $((SECONDS - start)) -ge "$timeout" ]; then
      log "timed out after ${timeout}s waiting for $what"
      return 1
    fi
    sleep 0.5
  done
}

kc() { "$(k8s_bin kubectl)" --kubeconfig "$KUBECONFIG_FILE" "$@"; }

# write_kubeconfig FILE USER CONTEXT CREDS: a kubeconfig (mode 600) of this
# cluster for USER in context CONTEXT, with the client certificate CREDS.crt
# and key CREDS.key embedded (up.sh for the admin and the daemons,
# kubeconfig-for.sh for the e2e suite's users).
write_kubeconfig() {
  local out=$1 user=$2 context=$3 creds=$4
  cat >"$out" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: cnpg-disk-e2e
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority-data: $(base64 -w0 <"$PKI/ca.crt")
users:
- name: $user
  user:
    client-certificate-data: $(base64 -w0 <"$creds.crt")
    client-key-data: $(base64 -w0 <"$creds.key")
contexts:
- name: $context
  context:
    cluster: cnpg-disk-e2e
    user: $user
current-context: $context
EOF
  chmod 600 "$out"
}

# Serialise heavy builds with test/infra/build-k8s.sh (same lock file).
with_build_lock() {
  mkdir -p "$CACHE"
  (
    exec 9>"$CACHE/.build.lock"
    flock 9
    "$@"
  )
}

# True when containerd (k8s.io namespace) holds image $1. The listing is read
# whole before matching: `ctr ... | grep -q` under pipefail fails at random
# when grep exits on the first match and ctr dies of SIGPIPE.
has_image() {
  local listing
  listing=$(ctr --address "$CONTAINERD_SOCK" -n k8s.io images ls -q) || return 1
  grep -qxF -- "$1" <<<"$listing"
}
