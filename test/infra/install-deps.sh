#!/usr/bin/env bash
# System packages the API-server tests need (Debian; run as root; idempotent).
#   openssl     certificates for the CA, apiserver, users and test hosts
#   iproute2    ip netns / veth for the test hosts (testhost.ts)
#   util-linux  setpriv --pdeathsig (no orphaned etcd/apiserver), flock
#   ca-certificates  the Go module downloads of build-k8s.sh (HTTPS)
# Go itself must already be installed (build-k8s.sh checks for it).
set -euo pipefail

packages=(openssl iproute2 util-linux ca-certificates)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all present (${packages[*]})"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing ${missing[*]}; run as root" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
