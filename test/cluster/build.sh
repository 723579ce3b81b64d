#!/usr/bin/env bash
# Build (or find in the cache) everything the end-to-end cluster runs:
#   - etcd and the Kubernetes binaries: test/infra/build-k8s.sh
#   - the CloudNativePG manager, external-provisioner, external-resizer: their
#     pinned Go modules (build-go.sh module)
#   - our csi-tmpfs driver and CoreDNS build: build-go.sh local
#   - Azurite from npm, into $CACHE/azurite-<version>
#   - the images: images.sh
# A warm run only checks files. `build.sh --check` fails instead of building.
set -euo pipefail
# shellcheck source=lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

if [ "${1:-}" = --check ]; then
  missing=0
  for f in "$ETCD_BIN" "$(k8s_bin kube-apiserver)" "$(k8s_bin kube-controller-manager)" \
    "$(k8s_bin kube-scheduler)" "$(k8s_bin kubelet)" "$(k8s_bin kube-proxy)" "$(k8s_bin kubectl)" \
    "$CNPG_MANAGER_BIN" "$PROVISIONER_BIN" "$RESIZER_BIN" "$CSI_DRIVER_BIN" "$COREDNS_BIN" \
    "$AZURITE_DIR/node_modules/azurite/dist/src/blob/main.js"; do
    [ -e "$f" ] || {
      log "missing: $f"
      missing=1
    }
  done
  "$CLUSTER_DIR/images.sh" --list >/dev/null || missing=1
  [ "$missing" = 0 ] || die "run test/cluster/build.sh"
  exit 0
fi

# Check (and install, as root) the Debian prerequisites before any build:
# images.sh needs buildah and mmdebstrap at the very end of a long build.
"$CLUSTER_DIR/install-deps.sh" >&2

start=$SECONDS
CNPG_DISK_SKIP_CRDS=1 nice -n 10 "$INFRA_DIR/build-k8s.sh" \
  etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl >/dev/null

"$CLUSTER_DIR/build-go.sh" module github.com/cloudnative-pg/cloudnative-pg "$CNPG_VERSION" ./cmd/manager \
  "$CNPG_MANAGER_BIN" "-X github.com/cloudnative-pg/cloudnative-pg/pkg/versions.buildVersion=${CNPG_VERSION#v}"
"$CLUSTER_DIR/build-go.sh" module "$EXTERNAL_PROVISIONER_MODULE" "$EXTERNAL_PROVISIONER_VERSION" ./cmd/csi-provisioner \
  "$PROVISIONER_BIN" "-X main.version=$EXTERNAL_PROVISIONER_VERSION"
"$CLUSTER_DIR/build-go.sh" module "$EXTERNAL_RESIZER_MODULE" "$EXTERNAL_RESIZER_VERSION" ./cmd/csi-resizer \
  "$RESIZER_BIN" "-X main.version=$EXTERNAL_RESIZER_VERSION"
"$CLUSTER_DIR/build-go.sh" local "$CLUSTER_DIR/csi-driver" "$CSI_DRIVER_BIN"
"$CLUSTER_DIR/build-go.sh" local "$CLUSTER_DIR/coredns" "$COREDNS_BIN"

if [ ! -f "$AZURITE_DIR/node_modules/azurite/dist/src/blob/main.js" ]; then
  log "installing azurite@$AZURITE_VERSION from npm into $AZURITE_DIR"
  rm -rf "$AZURITE_DIR.tmp"
  mkdir -p "$AZURITE_DIR.tmp"
  printf '{ "name": "cnpg-e2e-azurite", "private": true }\n' >"$AZURITE_DIR.tmp/package.json"
  (cd "$AZURITE_DIR.tmp" && npm install --no-audit --no-fund --omit=dev --loglevel=error "azurite@$AZURITE_VERSION" >&2)
  rm -rf "$AZURITE_DIR"
  mv "$AZURITE_DIR.tmp" "$AZURITE_DIR"
fi

"$CLUSTER_DIR/images.sh" >/dev/null
log "everything built or cached ($((SECONDS - start)) s)"
