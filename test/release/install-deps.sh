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
# shellcheck source-path=SCRIPTDIR source=../infra/apt.sh
source "$(dirname "${BASH_SOURCE[0]}")/../infra/apt.sh"

packages=(qemu-user libc6-arm64-cross wine wine64 gcc-mingw-w64-x86-64-win32 git unzip hyperfine)

apt_ensure "release install-deps" "${packages[@]}"
