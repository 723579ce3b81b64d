#!/usr/bin/env bash
# Is the end-to-end cluster up and usable?
#
#   status.sh          one line per daemon, then the node and the operator
#   status.sh --quiet  no output; exit 0 only when everything is healthy
set -euo pipefail
# shellcheck source=lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

quiet=0
[ "${1:-}" = --quiet ] && quiet=1

ALL=(etcd kube-apiserver api-forward-in api-forward kube-controller-manager kube-scheduler containerd
  kubelet kube-proxy coredns csi-driver csi-provisioner csi-resizer azurite)

ok=1
for d in "${ALL[@]}"; do
  if pid_alive "$d"; then
    [ "$quiet" = 1 ] || printf '%-24s running (pid %s)\n' "$d" "$(cat "$RUN/pids/$d.pid")"
  else
    ok=0
    [ "$quiet" = 1 ] || printf '%-24s NOT RUNNING\n' "$d"
  fi
done
[ "$ok" = 1 ] || exit 1
[ -x "$(k8s_bin kubectl)" ] && [ -f "$KUBECONFIG_FILE" ] || exit 1

node=$(kc get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' --request-timeout=5s 2>/dev/null || true)
operator=$(kc -n cnpg-system get deployment cnpg-controller-manager -o jsonpath='{.status.availableReplicas}' --request-timeout=5s 2>/dev/null || true)
if [ "$quiet" = 0 ]; then
  printf '%-24s %s\n' "node $NODE_NAME Ready" "${node:-unknown}" "operator available" "${operator:-0}"
  printf 'export KUBECONFIG=%s\n' "$KUBECONFIG_FILE"
fi
[ "$node" = True ] && [ "${operator:-0}" -ge 1 ]
