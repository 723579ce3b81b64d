#!/usr/bin/env bash
# Build the real Kubernetes / etcd binaries the integration tests run, from
# their Go modules at the versions pinned in versions.env.
#
#   test/infra/build-k8s.sh [component ...]
#
# Components: etcd kube-apiserver kube-controller-manager kube-scheduler
#             kubectl kubelet kube-proxy          (default: etcd kube-apiserver)
#
# Binaries land in ${CNPG_DISK_CACHE:-$HOME/.cache/cnpg-disk}/bin/<name>-<version>.
# A binary that is already there is not rebuilt, so a warm run costs no `go`
# invocation at all. The Go work directories (generated go.mod with the
# staging replace block) live in the cache too, never in the repository.
# Also extracts the CloudNativePG CRDs (cnpg-crds.sh) unless CNPG_DISK_SKIP_CRDS=1.
#
# stdout: one "<component> <absolute path>" line per component (and
# "cnpg-crds <dir>"); progress goes to stderr.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"

# go needs HOME (GOPATH, GOCACHE); CI environments may lack it.
export HOME="${HOME:-$(cd ~ && pwd)}"
cache=${CNPG_DISK_CACHE:-$HOME/.cache/cnpg-disk}
bin=$cache/bin
work=$cache/work

k8s_components=(kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kube-proxy)

if [ $# -gt 0 ]; then components=("$@"); else components=(etcd kube-apiserver); fi

log() { printf '[build-k8s] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

is_k8s_component() {
  local c
  for c in "${k8s_components[@]}"; do [ "$c" = "$1" ] && return 0; done
  return 1
}

version_of() {
  if [ "$1" = etcd ]; then echo "$ETCD_VERSION"; else echo "$K8S_VERSION"; fi
}

for c in "${components[@]}"; do
  [ "$c" = etcd ] || is_k8s_component "$c" ||
    die "unknown component '$c' (known: etcd ${k8s_components[*]})"
done

missing=()
for c in "${components[@]}"; do
  [ -x "$bin/$c-$(version_of "$c")" ] || missing+=("$c")
done

report() {
  local c
  for c in "${components[@]}"; do
    printf '%s %s\n' "$c" "$bin/$c-$(version_of "$c")"
  done
  if [ "${CNPG_DISK_SKIP_CRDS:-0}" != 1 ]; then
    printf 'cnpg-crds %s\n' "$("$here/cnpg-crds.sh")"
  fi
}

# Warm path: everything is there, touch nothing else.
if [ ${#missing[@]} -eq 0 ]; then
  report
  exit 0
fi

command -v go >/dev/null || die "go is not on PATH"
mkdir -p "$bin" "$work"

# One build at a time per cache (CI and a developer, or two test runs).
exec 9>"$cache/.build.lock"
flock 9

# Never switch to a downloaded toolchain: build with the Go that is installed.
export GOTOOLCHAIN=local
export GOFLAGS="${GOFLAGS:-} -mod=mod -buildvcs=false"

# Prints a field of `go mod download -json` output ("Dir", "GoMod", "Hash", "Time").
json_field() { sed -n "s/^[[:space:]]*\"$1\": \"\\(.*\\)\",\\{0,1\\}\$/\\1/p" | head -n1; }

download_json() {
  local out
  out=$(cd "$work" && go mod download -json "$1") || { printf '%s\n' "$out" >&2; die "cannot download $1"; }
  if printf '%s\n' "$out" | grep -q '"Error"'; then
    printf '%s\n' "$out" >&2
    die "cannot download $1"
  fi
  printf '%s\n' "$out"
}

build_etcd() {
  local dir=$work/etcd-$ETCD_VERSION start=$SECONDS
  log "building etcd $ETCD_VERSION (go.etcd.io/etcd/server/v3)"
  mkdir -p "$dir"
  # The server module's own go.mod has relative replaces, so `go install
  # module@version` refuses it; as a dependency of a tiny module it builds.
  cat >"$dir/go.mod" <<EOF
module cnpg-disk.invalid/etcd-build

go 1.24.0

require go.etcd.io/etcd/server/v3 $ETCD_VERSION
EOF
  (
    cd "$dir"
    CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$bin/.etcd-$ETCD_VERSION.tmp" go.etcd.io/etcd/server/v3
  )
  mv -f "$bin/.etcd-$ETCD_VERSION.tmp" "$bin/etcd-$ETCD_VERSION"
  log "etcd built in $((SECONDS - start)) s"
}

build_k8s() {
  local dir=$work/k8s-$K8S_VERSION start=$SECONDS meta gomod commit date minor pkgs=() c
  log "building ${*} $K8S_VERSION (k8s.io/kubernetes)"
  mkdir -p "$dir"
  meta=$(download_json "k8s.io/kubernetes@$K8S_VERSION")
  gomod=$(printf '%s\n' "$meta" | json_field GoMod)
  [ -f "$gomod" ] || die "no go.mod for k8s.io/kubernetes@$K8S_VERSION"
  # The commit is known only when the proxy reports the module's VCS origin
  # (it does not for k8s.io/kubernetes v1.34.12): gitCommit may stay empty.
  commit=$(printf '%s\n' "$meta" | json_field Hash)
  date=$(sed -n 's/.*"Time":"\([^"]*\)".*/\1/p' "${gomod%.mod}.info")
  minor=$(printf '%s' "$K8S_VERSION" | cut -d. -f2)

  # k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them
  # with ./staging/...; as a dependency we must point each one at its
  # published v0.<minor>.<patch> instead. The list comes from the pinned
  # go.mod itself, so it follows whatever that release ships.
  {
    printf 'module cnpg-disk.invalid/k8s-build\n\n'
    sed -n 's/^go \(.*\)$/go \1/p' "$gomod"
    printf '\nrequire k8s.io/kubernetes %s\n\nreplace (\n' "$K8S_VERSION"
    sed -n 's#^[[:space:]]*\(k8s.io/[^[:space:]]*\) => ./staging/.*#\1#p' "$gomod" |
      while read -r m; do printf '\t%s => %s v0%s\n' "$m" "$m" "${K8S_VERSION#v1}"; done
    printf ')\n'
  } >"$dir/go.mod.new"
  if ! cmp -s "$dir/go.mod.new" "$dir/go.mod.gen" 2>/dev/null; then
    # Template changed (or first run): start from it again.
    cp "$dir/go.mod.new" "$dir/go.mod"
    mv -f "$dir/go.mod.new" "$dir/go.mod.gen"
    rm -f "$dir/go.sum"
  else
    rm -f "$dir/go.mod.new"
  fi

  local ld="-s -w"
  local p
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor"
    ld+=" -X $p.gitCommit=$commit -X $p.gitTreeState=clean -X $p.buildDate=$date"
  done

  local outdir=$bin/.k8s-build.tmp
  rm -rf "$outdir"
  mkdir -p "$outdir"
  local static=() cgo=()
  for c in "$@"; do
    # Upstream links kubelet with cgo. Here it is static like the rest by
    # default: with cgo, go rebuilds nearly every package a second time (the
    # build configuration differs), ~8 more minutes on 2 cores for nothing a
    # test cluster needs. CNPG_DISK_KUBELET_CGO=1 restores upstream linking.
    if [ "$c" = kubelet ] && [ "${CNPG_DISK_KUBELET_CGO:-0}" = 1 ]; then
      cgo+=("k8s.io/kubernetes/cmd/$c")
    else
      static+=("k8s.io/kubernetes/cmd/$c")
    fi
  done
  (
    cd "$dir"
    if [ ${#static[@]} -gt 0 ]; then
      CGO_ENABLED=0 go build -trimpath -ldflags="$ld" -o "$outdir/" "${static[@]}"
    fi
    if [ ${#cgo[@]} -gt 0 ]; then
      go build -trimpath -ldflags="$ld" -o "$outdir/" "${cgo[@]}"
    fi
  )
  for c in "$@"; do
    mv -f "$outdir/$c" "$bin/$c-$K8S_VERSION"
  done
  rm -rf "$outdir"
  log "${*} built in $((SECONDS - start)) s"
}

total_start=$SECONDS
k8s_missing=()
for c in "${missing[@]}"; do
  # Another process holding the lock may have built it meanwhile.
  [ -x "$bin/$c-$(version_of "$c")" ] && continue
  if [ "$c" = etcd ]; then build_etcd; else k8s_missing+=("$c"); fi
done
if [ ${#k8s_missing[@]} -gt 0 ]; then build_k8s "${k8s_missing[@]}"; fi
log "done in $((SECONDS - total_start)) s"

report
