#!/usr/bin/env bash
# Extract the CloudNativePG CRDs (config/crd/bases/*.yaml) of the CNPG Go
# module pinned in versions.env from the Go module cache into
#   ${CNPG_DISK_CACHE:-$HOME/.cache/cnpg-disk}/crds/cnpg-<version>/
# and print that directory. Idempotent: a complete directory is reused without
# running `go`. The CRDs are never copied into the repository.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"

# go needs HOME (GOPATH, GOCACHE); CI environments may lack it.
export HOME="${HOME:-$(cd ~ && pwd)}"
cache=${CNPG_DISK_CACHE:-$HOME/.cache/cnpg-disk}
out=$cache/crds/cnpg-$CNPG_VERSION

if [ -f "$out/.complete" ]; then
  printf '%s\n' "$out"
  exit 0
fi

command -v go >/dev/null || { echo "cnpg-crds: go is not on PATH" >&2; exit 1; }
mkdir -p "$cache/crds"
export GOTOOLCHAIN=local

meta=$(cd "$cache" && go mod download -json "github.com/cloudnative-pg/cloudnative-pg@$CNPG_VERSION") || {
  printf '%s\n' "$meta" >&2
  exit 1
}
if printf '%s\n' "$meta" | grep -q '"Error"'; then
  printf '%s\n' "$meta" >&2
  exit 1
fi
dir=$(printf '%s\n' "$meta" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' | head -n1)
src=$dir/config/crd/bases
[ -d "$src" ] || { echo "cnpg-crds: $src not found in the module" >&2; exit 1; }

tmp=$(mktemp -d "$cache/crds/.cnpg-$CNPG_VERSION.XXXXXX")
cp "$src"/*.yaml "$tmp/"
chmod u+w "$tmp"/*.yaml
printf '%s\n' "$CNPG_VERSION" >"$tmp/.complete"
rm -rf "$out"
mv "$tmp" "$out"
echo "cnpg-crds: $(ls "$out"/*.yaml | wc -l) CRDs of cloudnative-pg $CNPG_VERSION" >&2
printf '%s\n' "$out"
