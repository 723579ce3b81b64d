#!/usr/bin/env bash
# Print the CloudNativePG operator manifests for the end-to-end cluster:
# config/default of the pinned Go module (CRDs, RBAC, webhooks, Deployment),
# rendered with `kubectl kustomize`, with the locally built image, pull policy
# Never, and the local PostgreSQL image as the default for new Clusters.
#
#   operator.sh POSTGRES_IMAGE
set -euo pipefail
# shellcheck source=lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

pg_image=${1:?usage: operator.sh POSTGRES_IMAGE}

export GOTOOLCHAIN=local
meta=$(cd "$CACHE" && go mod download -json "github.com/cloudnative-pg/cloudnative-pg@$CNPG_VERSION")
dir=$(printf '%s\n' "$meta" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' | head -n1)
[ -d "$dir/config/default" ] || die "config/default not found in cloudnative-pg $CNPG_VERSION"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$dir/config" "$work/config"
chmod -R u+w "$work/config"
mkdir -p "$work/overlay"
cat >"$work/overlay/kustomization.yaml" <<EOF
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- ../config/default
images:
- name: controller
  newName: ${OPERATOR_IMAGE%:*}
  newTag: "${OPERATOR_IMAGE##*:}"
configMapGenerator:
- name: cnpg-controller-manager-config
  namespace: cnpg-system
  options: { disableNameSuffixHash: true }
  literals:
  - POSTGRES_IMAGE_NAME=$pg_image
patches:
# The base resolved OPERATOR_IMAGE_NAME from the original image name already.
# 100m of CPU starves the operator's start on two busy cores (startup probe).
- patch: |-
    apiVersion: apps/v1
    kind: Deployment
    metadata: { name: cnpg-controller-manager, namespace: cnpg-system }
    spec:
      template:
        spec:
          containers:
          - name: manager
            imagePullPolicy: Never
            resources:
              limits: { cpu: "1", memory: 512Mi }
              requests: { cpu: 50m, memory: 100Mi }
            env:
            - name: OPERATOR_IMAGE_NAME
              value: $OPERATOR_IMAGE
EOF
# (kustomize warns about the module's deprecated `vars`: not ours to fix.)
"$(k8s_bin kubectl)" kustomize "$work/overlay" 2> >(grep -v -e "'vars' is deprecated" -e 'vars that were never replaced' >&2)
