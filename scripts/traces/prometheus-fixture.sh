#!/usr/bin/env bash
# Regenerates test/fixtures/traces/prometheus-used-bytes.json: what a real
# Prometheus 2.x answers to a range query of kubelet_volume_stats_used_bytes.
#
# It backfills two series (one PVC growing 1 GiB/h with a wobble, one flat)
# with `promtool tsdb create-blocks-from openmetrics`, starts `prometheus`
# on 127.0.0.1 over that TSDB, and saves the /api/v1/query_range answer.
# Needs the Debian `prometheus` package (promtool and prometheus).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=test/fixtures/traces/prometheus-used-bytes.json
work=$(mktemp -d)
trap 'kill "${pid:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT

start=1796083200 # 2026-12-01T00:00:00Z
{
  echo '# HELP kubelet_volume_stats_used_bytes Number of used bytes in the volume'
  echo '# TYPE kubelet_volume_stats_used_bytes gauge'
  for i in $(seq 0 179); do
    t=$((start + i * 60))
    # 40 GiB + 1 GiB per hour + a 64 MiB wobble every 10 minutes
    grow=$((42949672960 + i * 17895697 + (i % 10) * 6710886))
    echo "kubelet_volume_stats_used_bytes{namespace=\"payments\",persistentvolumeclaim=\"main-1\"} $grow $t"
    echo "kubelet_volume_stats_used_bytes{namespace=\"payments\",persistentvolumeclaim=\"main-1-wal\"} 2147483648 $t"
  done
  echo '# EOF'
} >"$work/series.om"
# OpenMetrics wants each series' samples together: sort by series then time.
{ head -2 "$work/series.om"; grep '^kubelet' "$work/series.om" | sort -s -t' ' -k1,1; echo '# EOF'; } >"$work/sorted.om"
promtool tsdb create-blocks-from openmetrics "$work/sorted.om" "$work/tsdb" >/dev/null

port=$((20000 + RANDOM % 10000))
printf 'global:\n  scrape_interval: 1h\n' >"$work/prometheus.yml"
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
  --storage.tsdb.retention.time=100y --web.listen-address="127.0.0.1:$port" >"$work/log" 2>&1 &
pid=$!
for _ in $(seq 1 60); do
  curl -fsS "http://127.0.0.1:$port/-/ready" >/dev/null 2>&1 && break
  sleep 1
done
curl -fsS "http://127.0.0.1:$port/api/v1/query_range" \
  --data-urlencode 'query=kubelet_volume_stats_used_bytes' \
  --data-urlencode "start=$start" --data-urlencode "end=$((start + 179 * 60))" \
  --data-urlencode 'step=60' >"$out"
prometheus --version 2>&1 | head -1 >&2
echo "wrote $out ($(wc -c <"$out") bytes)" >&2
