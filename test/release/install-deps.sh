#!/usr/bin/env bash
# System packages the distribution smoke tests (npm run release:smoke) need
# (Debian; run as root; idempotent). Not needed by `npm test`.
#   qemu-user           runs the linux-arm64 binaries (qemu-aarch64)
#   libc6-arm64-cross   the arm64 glibc they link against (/usr/aarch64-linux-gnu)
#   wine, wine64        runs the windows-x64 binary
#   gcc-mingw-w64-x86-64-win32  builds the ProcessPrng stand-in wine 8.0 lacks (wine/)
#   git                 krew clones custom indexes with it
#   unzip               reads the Windows archives back
#   hyperfine           start-up times (npm run release:measure)
# Go must already be installed (scripts/release/tools.sh builds krew, the
# official kubectl-cnpg and kubectl with it).
set -euo pipefail

packages=(qemu-user libc6-arm64-cross wine wine64 gcc-mingw-w64-x86-64-win32 git unzip hyperfine)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "release install-deps: all present (${packages[*]})"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "release install-deps: missing ${missing[*]}; run as root" >&2
  exit 1
fi

echo "release install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
