#!/usr/bin/env bash
# Bring up the single-node end-to-end cluster (idempotent): etcd,
# kube-apiserver, kube-controller-manager, kube-scheduler, containerd + runc +
# CNI bridge, kubelet, kube-proxy (iptables), CoreDNS, the csi-tmpfs driver
# with external-provisioner and external-resizer, Azurite, and the
# CloudNativePG operator. See docs/e2e.md.
#
#   up.sh            build what is missing (cached), start, wait until usable
#   up.sh --no-build fail instead of building
#
# When the cluster is already up and healthy this does nothing. A partly
# running or broken cluster is torn down (down.sh) and started fresh.
# Prints `export KUBECONFIG=...` on stdout; progress and times go to stderr.
set -euo pipefail
# shellcheck source=lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
need_root

build=1
[ "${1:-}" = --no-build ] && build=0

# Debian prerequisites first: seconds to learn of a missing package, instead of
# after the Go builds. With a build, install them; without, only check.
if [ "$build" = 1 ]; then
  "$CLUSTER_DIR/install-deps.sh" >&2
else
  "$CLUSTER_DIR/install-deps.sh" --check
fi

if "$CLUSTER_DIR/status.sh" --quiet; then
  log "already up"
  printf 'export KUBECONFIG=%s\n' "$KUBECONFIG_FILE"
  exit 0
fi

t0=$SECONDS
tp=$SECONDS
times=()
phase() {
  times+=("$(printf '%-28s %4d s' "$1" $((SECONDS - tp)))")
  log "$1: $((SECONDS - tp)) s"
  tp=$SECONDS
}

"$CLUSTER_DIR/down.sh" --quiet
phase "clean leftovers"

# A failed start leaves nothing running: keep the logs, then tear down
# (CNPG_E2E_KEEP_ON_FAILURE=1 leaves the broken cluster for inspection).
on_exit() {
  local rc=$?
  [ "$rc" = 0 ] && return
  if [ -d "$LOGS" ]; then
    rm -rf "$FAILED_LOGS"
    cp -r "$LOGS" "$FAILED_LOGS"
    log "start-up failed; daemon logs copied to $FAILED_LOGS"
  fi
  if [ "${CNPG_E2E_KEEP_ON_FAILURE:-0}" = 1 ]; then
    log "CNPG_E2E_KEEP_ON_FAILURE=1: leaving the cluster as it is (test/cluster/down.sh removes it)"
  else
    "$CLUSTER_DIR/down.sh" --quiet || true
  fi
}
trap on_exit EXIT

if [ "$build" = 1 ]; then
  "$CLUSTER_DIR/build.sh" >&2
else
  "$CLUSTER_DIR/build.sh" --check >&2
fi
phase "binaries and images"

for t in containerd containerd-shim-runc-v2 runc ctr socat iptables conntrack nsenter openssl curl node; do
  command -v "$t" >/dev/null || die "$t is not installed (run: bash test/cluster/install-deps.sh)"
done
[ -x /usr/lib/cni/bridge ] || die "CNI plugins missing (run: bash test/cluster/install-deps.sh)"
if ss -Hltn "sport = :$API_PORT" | grep -q .; then
  die "127.0.0.1:$API_PORT is taken on the host; set CNPG_E2E_API_PORT to a free port"
fi

mkdir -p "$STATE" "$RUN" "$LOGS" "$PKI" "$RUN/pids"
chmod 700 "$STATE" "$PKI"

# ---------------------------------------------------------------- network
ip netns add "$NETNS"
in_netns ip link set lo up
# The node address sits on one end of a veth pair whose both ends stay in the
# namespace (this kernel has no dummy interfaces).
in_netns ip link add "$NODE_IF" type veth peer name "${NODE_IF}p"
in_netns ip addr add "$NODE_IP/24" dev "$NODE_IF"
in_netns ip link set "${NODE_IF}p" up
in_netns ip link set "$NODE_IF" up
in_netns ip link add "$BRIDGE" type bridge
in_netns ip addr add "$POD_GW/24" dev "$BRIDGE"
in_netns ip link set "$BRIDGE" up
# Service addresses must be routable for the node's own connections (the API
# server calling the operator's webhook) before kube-proxy's DNAT applies.
in_netns ip route add "$SERVICE_CIDR" dev "$NODE_IF"
in_netns sysctl -qw net.ipv4.ip_forward=1
# Pod -> service -> pod on the same bridge: replies must go through conntrack.
in_netns sysctl -qw net.bridge.bridge-nf-call-iptables=1
phase "network namespace"

# ---------------------------------------------------------------- PKI
ossl() { openssl "$@" 2>/dev/null; }
ossl ecparam -name prime256v1 -genkey -noout -out "$PKI/ca.key"
ossl req -x509 -new -key "$PKI/ca.key" -subj "/CN=cnpg-disk-e2e-ca" -days 3650 -out "$PKI/ca.crt" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature"
# cert NAME SUBJECT [SAN]
cert() {
  local name=$1 subj=$2 san=${3:-}
  ossl ecparam -name prime256v1 -genkey -noout -out "$PKI/$name.key"
  ossl req -new -key "$PKI/$name.key" -subj "$subj" -out "$PKI/$name.csr"
  {
    echo "basicConstraints=CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=serverAuth,clientAuth"
    [ -n "$san" ] && echo "subjectAltName=$san"
  } >"$PKI/$name.ext"
  ossl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
    -days 3650 -extfile "$PKI/$name.ext" -out "$PKI/$name.crt"
  rm -f "$PKI/$name.csr" "$PKI/$name.ext"
}
cert apiserver "/CN=kube-apiserver" \
  "DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost,IP:127.0.0.1,IP:$NODE_IP,IP:$KUBERNETES_SVC_IP"
cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
cert admin "/O=system:masters/CN=cnpg-disk-e2e-admin"
cert controller-manager "/CN=system:kube-controller-manager"
cert scheduler "/CN=system:kube-scheduler"
cert kubelet "/O=system:nodes/CN=system:node:$NODE_NAME" "DNS:$NODE_NAME,IP:$NODE_IP"
cert kube-proxy "/CN=system:kube-proxy"
ossl ecparam -name prime256v1 -genkey -noout -out "$PKI/sa.key"
ossl ec -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub"
write_kubeconfig "$KUBECONFIG_FILE" admin cnpg-disk-e2e "$PKI/admin"
for c in controller-manager scheduler kubelet kube-proxy; do
  write_kubeconfig "$PKI/$c.kubeconfig" "$c" cnpg-disk-e2e "$PKI/$c"
done
phase "certificates"

# ---------------------------------------------------------------- control plane
start_daemon etcd "$ETCD_BIN" --name default --data-dir "$STATE/etcd" \
  --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
  --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
  --initial-cluster default=http://127.0.0.1:2380 --unsafe-no-fsync --log-level warn
wait_for 60 etcd in_netns curl -fsS http://127.0.0.1:2379/health

cat >"$STATE/audit-policy.yaml" <<'EOF'
# Every request at Metadata level (who, verb, resource), except the lease
# renewals that would drown the log. The e2e suite reads it to prove that
# read-only commands make no mutating request.
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: None
  resources:
  - group: coordination.k8s.io
    resources: [leases]
- level: Metadata
EOF
start_daemon kube-apiserver "$(k8s_bin kube-apiserver)" \
  --etcd-servers=http://127.0.0.1:2379 \
  --bind-address=0.0.0.0 --secure-port="$API_PORT" --advertise-address="$NODE_IP" \
  --service-cluster-ip-range="$SERVICE_CIDR" \
  --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
  --client-ca-file="$PKI/ca.crt" \
  --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" \
  --kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
  --kubelet-certificate-authority="$PKI/ca.crt" \
  --kubelet-preferred-address-types=InternalIP \
  --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
  --allow-privileged=true \
  --audit-policy-file="$STATE/audit-policy.yaml" --audit-log-path="$LOGS/audit.log" \
  --audit-log-maxsize=200 --audit-log-maxbackup=3 \
  --profiling=false --v=1
# The host reaches the API server through a unix socket: nothing of the
# namespace is routed to the host.
start_daemon api-forward-in socat "UNIX-LISTEN:$RUN/apiserver.sock,fork,unlink-early,mode=600" "TCP:127.0.0.1:$API_PORT"
wait_for 10 "API forwarder socket" test -S "$RUN/apiserver.sock"
start_host_daemon api-forward socat "TCP-LISTEN:$API_PORT,bind=127.0.0.1,fork,reuseaddr" "UNIX-CONNECT:$RUN/apiserver.sock"
wait_for 120 kube-apiserver kc get --raw /readyz
phase "etcd + kube-apiserver"

start_daemon kube-controller-manager "$(k8s_bin kube-controller-manager)" \
  --kubeconfig="$PKI/controller-manager.kubeconfig" \
  --authentication-kubeconfig="$PKI/controller-manager.kubeconfig" \
  --authorization-kubeconfig="$PKI/controller-manager.kubeconfig" \
  --service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" \
  --use-service-account-credentials=true --leader-elect=false \
  --allocate-node-cidrs=false --service-cluster-ip-range="$SERVICE_CIDR" \
  --bind-address=127.0.0.1 --v=1
start_daemon kube-scheduler "$(k8s_bin kube-scheduler)" \
  --kubeconfig="$PKI/scheduler.kubeconfig" \
  --authentication-kubeconfig="$PKI/scheduler.kubeconfig" \
  --authorization-kubeconfig="$PKI/scheduler.kubeconfig" \
  --leader-elect=false --bind-address=127.0.0.1 --v=1

# ---------------------------------------------------------------- containerd
mkdir -p "$STATE/cni/net.d" "$RUN/containerd"
cat >"$STATE/containerd.toml" <<EOF
version = 2
root = "$STATE/containerd"
state = "$RUN/containerd"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "$CONTAINERD_SOCK"
[ttrpc]
  address = "$CONTAINERD_SOCK.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$STATE/containerd-opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  netns_mounts_under_state_dir = true
  # root here lacks CAP_SYS_RESOURCE: an OOM score below containerd's own
  # (the pause container asks for -998) makes runc fail. Clamp instead.
  restrict_oom_score_adj = true
  disable_apparmor = true
  stream_server_address = "127.0.0.1"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$RUN/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$STATE/cni/net.d"
    max_conf_num = 1
EOF
cat >"$STATE/cni/net.d/10-cnpg-disk-e2e.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "cnpg-disk-e2e",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{ "subnet": "$POD_CIDR", "gateway": "$POD_GW" }]],
        "routes": [{ "dst": "0.0.0.0/0" }],
        "dataDir": "$STATE/cni/ipam"
      }
    }
  ]
}
EOF
start_daemon containerd containerd --config "$STATE/containerd.toml"
wait_for 30 containerd ctr --address "$CONTAINERD_SOCK" version
import_image() {
  ctr --address "$CONTAINERD_SOCK" -n k8s.io images import "$1" >/dev/null || die "importing $1 into containerd failed"
  has_image "$2" || die "$2 is not in containerd after import"
}
mapfile -t image_list < <("$CLUSTER_DIR/images.sh" --list)
pg_image=${image_list[2]#* }
# pause and the operator now (small); the PostgreSQL image (~570 MB, the
# slowest step of a warm start) in the background until the smoke pod needs it.
for line in "${image_list[0]}" "${image_list[1]}"; do import_image "${line% *}" "${line#* }"; done
import_image "${image_list[2]% *}" "$pg_image" >"$LOGS/image-import.log" 2>&1 &
pg_import_pid=$!
phase "containerd + small images"

# ---------------------------------------------------------------- node
for sub in /sys/fs/cgroup/*/; do
  [ -d "$sub" ] || continue
  mkdir -p "$sub$CGROUP_ROOT"
  # A new cpuset cgroup has no CPUs until given its parent's.
  if [ -f "$sub$CGROUP_ROOT/cpuset.cpus" ]; then
    cat "${sub}cpuset.cpus" >"$sub$CGROUP_ROOT/cpuset.cpus"
    cat "${sub}cpuset.mems" >"$sub$CGROUP_ROOT/cpuset.mems"
  fi
done
printf 'nameserver %s\n' "$NODE_IP" >"$STATE/resolv.conf"
cat >"$STATE/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
port: 10250
readOnlyPort: 0
authentication:
  anonymous: { enabled: false }
  webhook: { enabled: true }
  x509: { clientCAFile: $PKI/ca.crt }
authorization: { mode: Webhook }
tlsCertFile: $PKI/kubelet.crt
tlsPrivateKeyFile: $PKI/kubelet.key
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
# cgroup v1 (hybrid) machine: cgroupfs driver, and do not refuse v1.
cgroupDriver: cgroupfs
cgroupRoot: /$CGROUP_ROOT
failCgroupV1: false
failSwapOn: false
clusterDNS: [$NODE_IP]
clusterDomain: cluster.local
resolvConf: $STATE/resolv.conf
podLogsDir: $STATE/pod-logs
# Images cannot be pulled again here: never garbage-collect them.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: 100Mi
  nodefs.available: 1%
  nodefs.inodesFree: 1%
  imagefs.available: 1%
# Fresher volume statistics for the summary API (default 1m).
volumeStatsAggPeriod: 10s
# Pods are re-synced (and online volume expansion noticed) every 15 s instead
# of every minute, which keeps resize tests short.
syncFrequency: 15s
serializeImagePulls: false
maxPods: 110
EOF
start_daemon kubelet "$(k8s_bin kubelet)" --config="$STATE/kubelet.yaml" \
  --kubeconfig="$PKI/kubelet.kubeconfig" --root-dir="$KUBELET_ROOT" \
  --hostname-override="$NODE_NAME" --node-ip="$NODE_IP" --v=1

cat >"$STATE/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: { kubeconfig: $PKI/kube-proxy.kubeconfig }
hostnameOverride: $NODE_NAME
mode: iptables
clusterCIDR: $POD_CIDR
nodePortAddresses: [$NODE_IP/32]
# Leave the (host-wide) conntrack table settings alone.
conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s }
metricsBindAddress: 127.0.0.1:10249
healthzBindAddress: 127.0.0.1:10256
EOF
start_daemon kube-proxy "$(k8s_bin kube-proxy)" --config="$STATE/kube-proxy.yaml" --v=1

cat >"$STATE/Corefile" <<EOF
.:53 {
    bind $NODE_IP
    errors
    health 127.0.0.1:18080
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig $KUBECONFIG_FILE
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
    cache 5
}
EOF
start_daemon coredns "$COREDNS_BIN" -conf "$STATE/Corefile"

# ---------------------------------------------------------------- storage
mkdir -p "$STATE/csi" "$RUN/csi"
start_daemon csi-driver "$CSI_DRIVER_BIN" --endpoint "$CSI_SOCK" \
  --registration-socket "$KUBELET_ROOT/plugins_registry/$CSI_DRIVER_NAME-reg.sock" \
  --state-dir "$STATE/csi" --node-id "$NODE_NAME" --driver-name "$CSI_DRIVER_NAME"
wait_for 20 "CSI socket" test -S "$CSI_SOCK"
start_daemon csi-provisioner "$PROVISIONER_BIN" --csi-address="$CSI_SOCK" --kubeconfig="$KUBECONFIG_FILE" \
  --leader-election=false --extra-create-metadata --timeout=60s --v=2
start_daemon csi-resizer "$RESIZER_BIN" --csi-address="$CSI_SOCK" --kubeconfig="$KUBECONFIG_FILE" \
  --leader-election=false --timeout=60s --v=2

# ---------------------------------------------------------------- object store
azurite_account=cnpge2e
azurite_key=$(head -c 64 /dev/urandom | base64 -w0)
azurite_endpoint=http://$NODE_IP:$AZURITE_PORT/$azurite_account

wait_for 120 "node Ready" kc wait --for=condition=Ready "node/$NODE_NAME" --timeout=2s
phase "node Ready"

kc apply -f "$CLUSTER_DIR/manifests/storage.yaml" >/dev/null
wait_for 30 "CSINode registration" sh -c "'$(k8s_bin kubectl)' --kubeconfig '$KUBECONFIG_FILE' get csinode '$NODE_NAME' -o jsonpath='{.spec.drivers[*].name}' | grep -q '$CSI_DRIVER_NAME'"

cat >"$STATE/cluster.env" <<EOF
# Written by test/cluster/up.sh; read by the e2e suite (test/e2e).
KUBECONFIG=$KUBECONFIG_FILE
CNPG_E2E_NODE=$NODE_NAME
CNPG_E2E_PG_IMAGE=$pg_image
CNPG_E2E_OPERATOR_IMAGE=$OPERATOR_IMAGE
CNPG_E2E_STORAGE_CLASS=cnpg-e2e-expandable
CNPG_E2E_STORAGE_CLASS_FIXED=cnpg-e2e-fixed
CNPG_E2E_CSI_FAULTS=$STATE/csi/faults
CNPG_E2E_AUDIT_LOG=$LOGS/audit.log
CNPG_E2E_AZURE_ACCOUNT=$azurite_account
CNPG_E2E_AZURE_KEY=$azurite_key
CNPG_E2E_AZURE_ENDPOINT=$azurite_endpoint
EOF
chmod 600 "$STATE/cluster.env"
"$CLUSTER_DIR/azurite.sh" start

# ---------------------------------------------------------------- CloudNativePG
# Installed now; it starts while the PostgreSQL image is still being imported.
"$CLUSTER_DIR/operator.sh" "$pg_image" | kc apply --server-side --force-conflicts -f - >/dev/null

wait "$pg_import_pid" || die "importing the PostgreSQL image failed: $(cat "$LOGS/image-import.log")"
phase "PostgreSQL image import"

# Smoke pod: pod networking, cluster DNS and the kubernetes service via kube-proxy.
kc apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: { name: cnpg-e2e-smoke, namespace: default }
spec:
  restartPolicy: Never
  securityContext: { runAsUser: 26, runAsNonRoot: true }
  containers:
  - name: smoke
    image: $pg_image
    command: [bash, -c, 'getent hosts kubernetes.default.svc.cluster.local && exec 3<>/dev/tcp/kubernetes.default.svc.cluster.local/443']
EOF
if ! wait_for 90 "smoke pod" sh -c "'$(k8s_bin kubectl)' --kubeconfig '$KUBECONFIG_FILE' get pod cnpg-e2e-smoke -o jsonpath='{.status.phase}' | grep -qx Succeeded"; then
  kc describe pod cnpg-e2e-smoke >&2 || true
  kc logs cnpg-e2e-smoke >&2 || true
  die "the smoke pod did not succeed (daemon logs: $LOGS, copied to $FAILED_LOGS on exit)"
fi
kc delete pod cnpg-e2e-smoke --wait=false >/dev/null
phase "smoke pod (DNS, service)"

kc -n cnpg-system rollout status deployment/cnpg-controller-manager --timeout=180s >&2 ||
  die "the CloudNativePG operator did not become available (kubectl -n cnpg-system describe pods)"
# The webhooks must answer before Clusters can be created.
wait_for 60 "operator webhooks" sh -c "'$(k8s_bin kubectl)' --kubeconfig '$KUBECONFIG_FILE' get validatingwebhookconfiguration cnpg-validating-webhook-configuration -o jsonpath='{.webhooks[0].clientConfig.caBundle}' | grep -q ."
phase "CloudNativePG operator"

printf '%s\n' "${times[@]}" "$(printf '%-28s %4d s' total $((SECONDS - t0)))" >"$STATE/startup-times.txt"
log "cluster up in $((SECONDS - t0)) s (times in $STATE/startup-times.txt)"
printf 'export KUBECONFIG=%s\n' "$KUBECONFIG_FILE"
