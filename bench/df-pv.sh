#!/usr/bin/env bash
# Builds the fleet benchmark's reference, kubectl df-pv, from its public source.
#
#   bash bench/df-pv.sh SOURCE OUT [REF]
#
# SOURCE  a git clone of df-pv's public repository (its module is not served
#         by the Go module proxy, so the source has to be brought here; nothing
#         of it is kept in this repository)
# OUT     directory for the two binaries:
#           OUT/df-pv        client-side throttling off (DF_PV_BIN)
#           OUT/df-pv-stock  unchanged (DF_PV_STOCK_BIN)
# REF     the tag or commit to build (default v0.5.0, the version measured in
#         docs/testing.md)
#
# Its dependencies come from the Go module proxy (GOPROXY as configured).
# "Throttling off": client-go limits a client to 5 requests/s with a burst of
# 10 unless told otherwise, and df-pv makes one GET per PVC, so the stock
# build spends minutes of a 1,800-PVC run waiting on its own limiter. A
# negative QPS on the rest.Config makes client-go build no rate limiter at all;
# the change is one line after df-pv's ToRESTConfig() call, and the script
# fails if that line is not found (another version may need another edit).
set -euo pipefail

src=${1:?usage: bash bench/df-pv.sh SOURCE OUT [REF]}
out=${2:?usage: bash bench/df-pv.sh SOURCE OUT [REF]}
ref=${3:-v0.5.0}
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

build() { # dir output
  (cd "$1" && CGO_ENABLED=0 go build -trimpath -o "$2" ./cmd/df-pv)
}

git -C "$src" archive "$ref" | tar -x -C "$work"
build "$work" "$out/df-pv-stock"

file=$work/pkg/df-pv/root.go
anchor='config, err := genericCliConfigFlags.ToRESTConfig()'
if ! grep -qF "$anchor" "$file"; then
  echo "df-pv.sh: '$anchor' not found in pkg/df-pv/root.go of $ref; edit the recipe for this version" >&2
  exit 1
fi
sed -i "s|$anchor|$anchor\n\tif config != nil {\n\t\tconfig.QPS = -1 // bench/df-pv.sh: no client-side rate limiter\n\t}|" "$file"
build "$work" "$out/df-pv"

echo "built $out/df-pv (throttling off) and $out/df-pv-stock from $ref"
echo "DF_PV_BIN=$out/df-pv DF_PV_STOCK_BIN=$out/df-pv-stock npm run bench:fleet"
