#!/usr/bin/env bash
# Debian packages the end-to-end cluster needs (run as root; idempotent).
# up.sh and build.sh call it before any build, so a fresh machine learns of a
# missing package in seconds, not after the Go builds.
#   containerd runc containernetworking-plugins   the container runtime and pod network
#   iptables conntrack                            kube-proxy's service rules
#   socat                                         the API server's port on the host
#   buildah mmdebstrap                            the operator and PostgreSQL images
#   gcc libc6-dev                                 the pause image (static C)
#   openssl curl util-linux iproute2              PKI, health checks, nsenter, network namespaces
#   prometheus                                    promtool and a real Prometheus for alert tests
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../infra/apt.sh
source "$(dirname "${BASH_SOURCE[0]}")/../infra/apt.sh"

packages=(containerd runc containernetworking-plugins iptables conntrack socat buildah mmdebstrap
  gcc libc6-dev openssl curl util-linux iproute2 ca-certificates prometheus)

if [ "${1:-}" = --check ]; then
  mapfile -t missing < <(apt_not_installed "${packages[@]}")
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "e2e cluster: missing Debian packages: ${missing[*]} (run: bash test/cluster/install-deps.sh)" >&2
    exit 1
  fi
  exit 0
fi
apt_ensure "e2e cluster deps" "${packages[@]}"
