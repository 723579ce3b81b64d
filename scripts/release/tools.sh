#!/usr/bin/env bash
# Builds the real tools the distribution tests run, from their Go modules at
# pinned versions, into ${CNPG_DISK_CACHE:-$HOME/.cache/cnpg-disk}/bin/<name>-<version>:
#
#   krew                     sigs.k8s.io/krew/cmd/krew                     ($KREW_VERSION)
#   validate-krew-manifest   sigs.k8s.io/krew/cmd/validate-krew-manifest   ($KREW_VERSION)
#   kubectl-cnpg             github.com/cloudnative-pg/cloudnative-pg/cmd/kubectl-cnpg
#                            (CNPG_VERSION of test/infra/versions.env: the official plugin)
#   kubectl                  through test/infra/build-k8s.sh (K8S_VERSION there)
#
#   scripts/release/tools.sh [tool ...]          (default: all of them)
#
# stdout: one "<tool> <absolute path>" line per tool; progress on stderr.
# A tool already built is not rebuilt. Go builds run niced, one at a time.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
# shellcheck source=../../test/infra/versions.env
source "$repo/test/infra/versions.env"

cache=${CNPG_DISK_CACHE:-$HOME/.cache/cnpg-disk}
bin=$cache/bin
all=(krew validate-krew-manifest kubectl-cnpg kubectl)
if [ $# -gt 0 ]; then tools=("$@"); else tools=("${all[@]}"); fi

log() { printf '[release-tools] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

path_of() {
  case $1 in
    krew | validate-krew-manifest) echo "$bin/$1-$KREW_VERSION" ;;
    kubectl-cnpg) echo "$bin/kubectl-cnpg-$CNPG_VERSION" ;;
    kubectl) echo "$bin/kubectl-$K8S_VERSION" ;;
    *) die "unknown tool '$1' (known: ${all[*]})" ;;
  esac
}

# go install <module/cmd>@<version> into a private GOBIN, then move to the pinned name.
go_install() {
  local pkg=$1 out=$2 ldflags=$3 gobin start=$SECONDS
  command -v go >/dev/null || die "go is not on PATH"
  mkdir -p "$bin"
  gobin=$(mktemp -d "$bin/.gobin.XXXXXX")
  log "building $pkg"
  GOTOOLCHAIN=local GOFLAGS=-buildvcs=false GOBIN=$gobin CGO_ENABLED=0 \
    nice -n 10 go install -trimpath -ldflags="-s -w $ldflags" "$pkg" >&2
  mv -f "$gobin/$(basename "${pkg%@*}")" "$out"
  rm -rf "$gobin"
  log "built $(basename "$out") in $((SECONDS - start)) s"
}

# go build of a package of <module>@<version> as a dependency of a throwaway
# module in the cache: `go install module@version` also asks the proxy for the
# module's version list (deprecation check), which the proxy refuses for some
# modules here (CloudNativePG: 403), while the version itself is served.
go_build_dep() {
  local module=$1 version=$2 pkg=$3 out=$4 ldflags=$5 dir start=$SECONDS
  command -v go >/dev/null || die "go is not on PATH"
  dir=$cache/work/$(basename "$pkg")-$version
  mkdir -p "$dir" "$bin"
  printf 'module cnpg-disk.invalid/%s-build\n\ngo 1.24.0\n\nrequire %s %s\n' "$(basename "$pkg")" "$module" "$version" >"$dir/go.mod"
  log "building $pkg ($module $version)"
  (
    cd "$dir"
    GOTOOLCHAIN=local GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0 \
      nice -n 10 go build -trimpath -ldflags="-s -w $ldflags" -o "$out.tmp" "$pkg" >&2
  )
  mv -f "$out.tmp" "$out"
  log "built $(basename "$out") in $((SECONDS - start)) s"
}

mkdir -p "$bin"
exec 9>"$cache/.release-tools.lock"
flock 9

for t in "${tools[@]}"; do
  out=$(path_of "$t")
  if [ ! -x "$out" ]; then
    case $t in
      krew | validate-krew-manifest)
        go_install "sigs.k8s.io/krew/cmd/$t@$KREW_VERSION" "$out" "-X sigs.k8s.io/krew/internal/version.gitTag=$KREW_VERSION"
        ;;
      kubectl-cnpg)
        go_build_dep github.com/cloudnative-pg/cloudnative-pg "$CNPG_VERSION" \
          github.com/cloudnative-pg/cloudnative-pg/cmd/kubectl-cnpg "$out" \
          "-X github.com/cloudnative-pg/cloudnative-pg/pkg/versions.buildVersion=${CNPG_VERSION#v}"
        ;;
      kubectl)
        CNPG_DISK_SKIP_CRDS=1 nice -n 10 bash "$repo/test/infra/build-k8s.sh" kubectl >/dev/null
        ;;
    esac
  fi
  [ -x "$out" ] || die "$t was not built at $out"
  printf '%s %s\n' "$t" "$out"
done
