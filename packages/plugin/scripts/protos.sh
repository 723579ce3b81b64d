#!/usr/bin/env bash
# Extract the CNPG-I .proto files into packages/plugin/build/protos/ and print
# that directory. The version is the one the pinned CloudNativePG
# (CNPG_VERSION in test/infra/versions.env) requires in its go.mod, so the
# plugin speaks exactly the protocol that operator build speaks. The files come
# from the Go module cache (`go mod download`), are never committed
# (build/ is ignored) and are reused while their version matches: running
# this again costs no `go` call.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
pkg=$(cd "$here/.." && pwd)
# shellcheck source=../../../test/infra/versions.env
source "$pkg/../../test/infra/versions.env"

export HOME="${HOME:-$(cd ~ && pwd)}"
out=$pkg/build/protos
stamp=$out/.complete

if [ -f "$stamp" ] && [ "$(sed -n 1p "$stamp")" = "cloudnative-pg $CNPG_VERSION" ] && [ "$(stat -c %a "$out")" = 755 ]; then
  printf '%s\n' "$out"
  exit 0
fi

command -v go >/dev/null || { echo "protos: go is not on PATH" >&2; exit 1; }
export GOTOOLCHAIN=local
work=${CNPG_DISK_CACHE:-$HOME/.cache/cnpg-disk}
mkdir -p "$work" "$pkg/build"

# `go mod download -json M@V` prints a JSON object; take one string field of it.
field() { sed -n "s/^[[:space:]]*\"$1\": \"\\(.*\\)\",\\{0,1\\}\$/\\1/p" | head -n1; }
download() {
  local meta
  meta=$(cd "$work" && go mod download -json "$1") || { printf '%s\n' "$meta" >&2; return 1; }
  if printf '%s\n' "$meta" | grep -q '"Error"'; then
    printf '%s\n' "$meta" >&2
    return 1
  fi
  printf '%s\n' "$meta"
}

cnpg_mod=$(download "github.com/cloudnative-pg/cloudnative-pg@$CNPG_VERSION" | field GoMod)
[ -f "$cnpg_mod" ] || { echo "protos: go.mod of cloudnative-pg $CNPG_VERSION not found" >&2; exit 1; }
cnpgi_version=$(awk '$1 == "github.com/cloudnative-pg/cnpg-i" { print $2; exit } $2 == "github.com/cloudnative-pg/cnpg-i" { print $3; exit }' "$cnpg_mod")
[ -n "$cnpgi_version" ] || { echo "protos: cloudnative-pg $CNPG_VERSION does not require github.com/cloudnative-pg/cnpg-i" >&2; exit 1; }

dir=$(download "github.com/cloudnative-pg/cnpg-i@$cnpgi_version" | field Dir)
[ -d "$dir/proto" ] || { echo "protos: $dir/proto not found in cnpg-i $cnpgi_version" >&2; exit 1; }

tmp=$(mktemp -d "$pkg/build/.protos.XXXXXX")
cp "$dir"/proto/*.proto "$tmp/"
# Readable by everyone (mktemp makes the directory 0700; the files come read-only from the module cache):
# the plugin runs as an unprivileged user in its image.
chmod 0755 "$tmp"
chmod 0644 "$tmp"/*.proto
printf 'cloudnative-pg %s\ncnpg-i %s\n' "$CNPG_VERSION" "$cnpgi_version" >"$tmp/.complete"
rm -rf "$out"
mv "$tmp" "$out"
echo "protos: $(ls "$out"/*.proto | wc -l) files of cnpg-i $cnpgi_version (cloudnative-pg $CNPG_VERSION)" >&2
printf '%s\n' "$out"
