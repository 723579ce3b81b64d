#!/usr/bin/env bash
# Build one Go command for the end-to-end cluster into the shared cache.
#
#   build-go.sh module MODULE VERSION PACKAGE OUTPUT [LDFLAGS]
#       a published module at a pinned version, built as the main module (a
#       writable copy of its source from the module cache), so its own go.mod
#       with its replace directives is honoured. PACKAGE is relative, e.g.
#       ./cmd/manager.
#   build-go.sh local DIR OUTPUT
#       one of our own modules under test/cluster (csi-driver, coredns).
#
# Skips the build when OUTPUT exists. Takes the cache's build lock (the same
# one test/infra/build-k8s.sh uses) so only one heavy Go build runs at a time,
# and builds with `nice`. Static binaries (CGO_ENABLED=0), never a downloaded
# toolchain (GOTOOLCHAIN=local).
set -euo pipefail
# shellcheck source=lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

export GOTOOLCHAIN=local CGO_ENABLED=0
export GOFLAGS="-mod=mod -buildvcs=false"

build_module() {
  local module=$1 version=$2 pkg=$3 out=$4 ldflags=${5:-}
  [ -x "$out" ] && return 0
  local start=$SECONDS meta dir work
  log "building $module@$version $pkg"
  meta=$(cd "$CACHE" && go mod download -json "$module@$version") || die "cannot download $module@$version"
  if printf '%s\n' "$meta" | grep -q '"Error"'; then
    printf '%s\n' "$meta" >&2
    die "cannot download $module@$version"
  fi
  dir=$(printf '%s\n' "$meta" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' | head -n1)
  [ -d "$dir" ] || die "no source directory for $module@$version"
  work=$CACHE/work/src/$(printf '%s' "$module@$version" | tr '/@' '__')
  if [ ! -f "$work/.complete" ]; then
    rm -rf "$work"
    mkdir -p "$(dirname "$work")"
    cp -r "$dir" "$work"
    chmod -R u+w "$work"
    touch "$work/.complete"
  fi
  mkdir -p "$(dirname "$out")"
  (cd "$work" && nice -n 10 go build -trimpath -ldflags="-s -w $ldflags" -o "$out.tmp" "$pkg")
  mv -f "$out.tmp" "$out"
  log "built $(basename "$out") in $((SECONDS - start)) s"
}

build_local() {
  local dir=$1 out=$2
  [ -x "$out" ] && return 0
  local start=$SECONDS
  log "building $(basename "$dir") (our module)"
  mkdir -p "$(dirname "$out")"
  (cd "$dir" && nice -n 10 go build -trimpath -ldflags="-s -w" -o "$out.tmp" .)
  mv -f "$out.tmp" "$out"
  log "built $(basename "$out") in $((SECONDS - start)) s"
}

command -v go >/dev/null || die "go is not on PATH"
mode=${1:-}
shift || true
case "$mode" in
  module)
    [ $# -ge 4 ] || die "usage: build-go.sh module MODULE VERSION PACKAGE OUTPUT [LDFLAGS]"
    [ -x "$4" ] || with_build_lock build_module "$@"
    ;;
  local)
    [ $# -eq 2 ] || die "usage: build-go.sh local DIR OUTPUT"
    [ -x "$2" ] || with_build_lock build_local "$@"
    ;;
  *) die "usage: build-go.sh module|local ..." ;;
esac
