#!/usr/bin/env bash
# The end-to-end cluster's object store (Azurite, Azure Blob emulator from
# npm), listening on $NODE_IP:$AZURITE_PORT inside the cluster's network
# namespace, where pods reach it. Its account and key are in $STATE/cluster.env.
#
#   azurite.sh start   start it (no-op when running)
#   azurite.sh stop    stop it: archiving to it then fails for real
#   azurite.sh status  exit 0 when it answers
# Blobs persist in $STATE/azurite across stop/start.
set -euo pipefail
# shellcheck source=lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
need_root

answers() { in_netns curl -s -o /dev/null --max-time 2 "http://$NODE_IP:$AZURITE_PORT/"; }

case "${1:-}" in
  start)
    if pid_alive azurite; then exit 0; fi
    [ -f "$STATE/cluster.env" ] || die "the cluster is not up ($STATE/cluster.env missing)"
    account=$(sed -n 's/^CNPG_E2E_AZURE_ACCOUNT=//p' "$STATE/cluster.env")
    key=$(sed -n 's/^CNPG_E2E_AZURE_KEY=//p' "$STATE/cluster.env")
    mkdir -p "$STATE/azurite"
    start_daemon azurite env "AZURITE_ACCOUNTS=$account:$key" \
      node "$AZURITE_DIR/node_modules/azurite/dist/src/blob/main.js" \
      --blobHost "$NODE_IP" --blobPort "$AZURITE_PORT" --location "$STATE/azurite" \
      --loose --skipApiVersionCheck --disableProductStyleUrl --disableTelemetry
    wait_for 30 azurite answers || die "azurite did not start (see $LOGS/azurite.log)"
    ;;
  stop)
    if pid_alive azurite; then
      kill -TERM "$(cat "$RUN/pids/azurite.pid")"
      wait_for 10 "azurite to stop" sh -c "! kill -0 $(cat "$RUN/pids/azurite.pid") 2>/dev/null" ||
        kill -KILL "$(cat "$RUN/pids/azurite.pid")" 2>/dev/null || true
    fi
    rm -f "$RUN/pids/azurite.pid"
    ;;
  status) pid_alive azurite && answers ;;
  *) die "usage: azurite.sh start|stop|status" ;;
esac
