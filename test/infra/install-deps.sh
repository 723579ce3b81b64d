#!/usr/bin/env bash
# System packages the API-server tests need (Debian; run as root; idempotent).
#   openssl     certificates for the CA, apiserver, users and test hosts
#   iproute2    ip netns / veth for the test hosts (testhost.ts)
#   util-linux  setpriv --pdeathsig (no orphaned etcd/apiserver), flock
#   ca-certificates  the Go module downloads of build-k8s.sh (HTTPS)
# Go itself must already be installed (build-k8s.sh checks for it).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=apt.sh
source "$(dirname "${BASH_SOURCE[0]}")/apt.sh"

packages=(openssl iproute2 util-linux ca-certificates)

apt_ensure install-deps "${packages[@]}"
