#!/usr/bin/env bash
# Regenerates test/fixtures/traces/e2e-status-watch.ndjson: what
# `kubectl cnpg disk status --watch -o json` writes against a real
# CloudNativePG cluster whose data volume is filling.
#
# On the end-to-end cluster (docs/e2e.md; its cluster.env gives the
# kubeconfig, storage class and PostgreSQL image) it creates a namespace
# ($TRACE_NAMESPACE, default disk-trace) with a one-instance Cluster (1 GiB
# data, 1 GiB WAL), writes about 48 MiB a minute into a table, records the
# watch for $TRACE_SECONDS (default 300) at a 15 s interval, and deletes the
# namespace. Run it under the e2e lock:
#   flock /tmp/cnpg-e2e.lock scripts/traces/e2e-status-watch.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
state=${CNPG_E2E_STATE:-/var/lib/cnpg-disk-e2e}
# shellcheck disable=SC1091
set -a && . "$state/cluster.env" && set +a
export KUBECONFIG
ns=${TRACE_NAMESPACE:-disk-trace}
seconds=${TRACE_SECONDS:-300}
out=test/fixtures/traces/e2e-status-watch.ndjson
kubectl=${KUBECTL:-$(ls ~/.cache/cnpg-disk/bin/kubectl-v* | head -1)}
k() { "$kubectl" -n "$ns" "$@"; }
trap '"$kubectl" delete namespace "$ns" --wait=false >/dev/null 2>&1 || true; kill "${writer:-0}" 2>/dev/null || true' EXIT

"$kubectl" create namespace "$ns"
k apply -f - <<YAML
apiVersion: postgresql.cnpg.io/v1
kind: Cluster
metadata:
  name: trace
spec:
  instances: 1
  imageName: $CNPG_E2E_PG_IMAGE
  postgresql:
    parameters: { shared_buffers: 32MB, max_wal_size: 512MB, min_wal_size: 128MB }
  resources:
    requests: { cpu: 50m, memory: 128Mi }
  storage: { size: 1Gi, storageClass: $CNPG_E2E_STORAGE_CLASS }
  walStorage: { size: 1Gi, storageClass: $CNPG_E2E_STORAGE_CLASS }
YAML
k wait --for=condition=Ready cluster/trace --timeout=600s
psql() { k exec trace-1 -c postgres -- psql -qAtX -v ON_ERROR_STOP=1 -c "$1"; }
psql 'create table filler (id bigserial, pad text)'
# about 8 MiB every 10 s (8,000 rows of 1 KiB)
(
  while :; do
    psql "insert into filler (pad) select repeat(md5(g::text), 32) from generate_series(1, 8000) g" >/dev/null
    sleep 10
  done
) &
writer=$!
timeout -s INT "$seconds" node bin/run.js disk status -n "$ns" trace --watch --interval 15s -o json >"$out" || true
kill "$writer" 2>/dev/null || true
"$kubectl" version --client 2>/dev/null | head -1 >&2
echo "wrote $out ($(wc -l <"$out") documents)" >&2
