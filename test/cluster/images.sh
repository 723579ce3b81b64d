#!/usr/bin/env bash
# Build the container images of the end-to-end cluster with buildah, as
# docker-archive files in $CACHE/images (nothing is ever pulled):
#
#   pause          our pause.c, linked statically
#   cloudnative-pg the operator's manager binary (build.sh builds it from the
#                  pinned Go module); the operator also copies it into every
#                  PostgreSQL pod (init container bootstrap-controller)
#   postgresql     a Debian bookworm root filesystem made by mmdebstrap from
#                  the host's apt sources: postgresql-$PG_MAJOR, barman-cli-cloud
#                  with the Azure Blob client, user and group postgres with
#                  uid/gid 26 (gid 26 is Debian's "tape", renamed), the
#                  PostgreSQL binaries on PATH, tagged with the installed version
#                  (e.g. 15.18) so CloudNativePG can read the major version.
#
#   images.sh          build what is missing, print "<archive> <image>" lines
#   images.sh --list   only print them (fails if something is missing)
#
# Archives are keyed by a hash of their inputs, so a changed recipe rebuilds.
set -euo pipefail
# shellcheck source=lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

list_only=0
[ "${1:-}" = --list ] && list_only=1

mkdir -p "$IMAGES"
BUILDAH_ROOT=$CACHE/buildah
buildah_() { buildah --root "$BUILDAH_ROOT/root" --runroot "$BUILDAH_ROOT/runroot" --storage-driver vfs "$@"; }

# recipe_hash FILE... : short hash of this script's recipe inputs.
recipe_hash() { cat "$@" | sha256sum | cut -c1-12; }

# commit_archive CONTAINER IMAGE ARCHIVE: commit a working container and write
# it as a docker-archive named IMAGE, leaving nothing in buildah's storage.
commit_archive() {
  local c=$1 image=$2 archive=$3 id
  id=$(buildah_ commit --rm --quiet "$c" "$image")
  rm -f "$archive.tmp"
  buildah_ push --quiet "$id" "docker-archive:$archive.tmp:$image" >/dev/null
  buildah_ rmi "$id" >/dev/null
  mv -f "$archive.tmp" "$archive"
}

build_pause() {
  local archive=$1 tmp c
  log "building $PAUSE_IMAGE"
  command -v gcc >/dev/null || die "gcc is needed to build the pause image (apt-get install gcc libc6-dev)"
  tmp=$(mktemp -d)
  gcc -static -Os -s -o "$tmp/pause" "$CLUSTER_DIR/pause/pause.c"
  c=$(buildah_ from scratch)
  buildah_ copy --quiet "$c" "$tmp/pause" /pause >/dev/null
  buildah_ config --entrypoint '["/pause"]' --user 65535:65535 "$c"
  commit_archive "$c" "$PAUSE_IMAGE" "$archive"
  rm -rf "$tmp"
}

build_operator() {
  local archive=$1 c tmp arch
  log "building $OPERATOR_IMAGE"
  [ -x "$CNPG_MANAGER_BIN" ] || die "$CNPG_MANAGER_BIN is missing (run test/cluster/build.sh)"
  # The operator looks for operator/manager_<goarch> (relative to its working
  # directory) to know which instance-manager architectures it can inject.
  arch=$(go env GOARCH)
  tmp=$(mktemp -d)
  mkdir -p "$tmp/root/operator"
  cp "$CNPG_MANAGER_BIN" "$tmp/root/operator/manager_$arch"
  chmod 0755 "$tmp/root/operator/manager_$arch"
  ln -s "operator/manager_$arch" "$tmp/root/manager"
  c=$(buildah_ from scratch)
  buildah_ copy --quiet "$c" "$tmp/root/" / >/dev/null
  buildah_ config --entrypoint '["/manager"]' --workingdir / --user 10001:10001 "$c"
  commit_archive "$c" "$OPERATOR_IMAGE" "$archive"
  rm -rf "$tmp"
}

# The customize hook trims the image: documentation, and every Azure SDK
# package except azure.core/azure.storage/azure.identity (python3-azure is
# 540 MB installed, almost all management clients barman never imports).
# shellcheck disable=SC2016 # expanded by mmdebstrap's hook shell, not here
PG_HOOK_ESSENTIAL='set -e
sed -i "s/^tape:x:26:/postgres:x:26:/" "$1/etc/group"
echo "postgres:x:26:26:PostgreSQL administrator:/var/lib/postgresql:/bin/bash" >>"$1/etc/passwd"'
# shellcheck disable=SC2016
PG_HOOK_CUSTOMIZE='set -e
rm -rf "$1"/var/lib/postgresql/*/main "$1"/etc/postgresql/*/main
mkdir -p "$1/var/lib/postgresql" "$1/var/run/postgresql"
chown -R 26:26 "$1/var/lib/postgresql" "$1/var/run/postgresql"
cd "$1/usr/lib/python3/dist-packages/azure"
for d in *; do case "$d" in core|storage|identity|__init__.py|__pycache__) ;; *) rm -rf "$d" ;; esac; done
rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/*'

pg_sources() {
  local f
  for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list; do
    if [ -s "$f" ]; then
      printf '%s\n' "$f"
      return
    fi
  done
  die "no Debian apt sources found on this host"
}

build_postgresql() {
  local archive=$1 namefile=$2 tmp ver tag image c
  command -v mmdebstrap >/dev/null || die "mmdebstrap is missing (apt-get install mmdebstrap)"
  tmp=$(mktemp -d)
  log "building the PostgreSQL $PG_MAJOR root filesystem with mmdebstrap (Debian bookworm)"
  mmdebstrap --quiet --variant=apt --mode=root --format=tar \
    --aptopt='Apt::Install-Recommends "false"' \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --include="postgresql-$PG_MAJOR,barman-cli-cloud,python3-azure-storage,ca-certificates,procps" \
    --essential-hook="$PG_HOOK_ESSENTIAL" \
    --customize-hook="$PG_HOOK_CUSTOMIZE" \
    --customize-hook="chroot \"\$1\" dpkg-query -W -f='\${Version}' postgresql-$PG_MAJOR >$tmp/version" \
    bookworm "$tmp/rootfs.tar" "$(pg_sources)"
  ver=$(cat "$tmp/version")
  tag=$(printf '%s' "$ver" | sed -n 's/^\([0-9][0-9]*\.[0-9][0-9]*\).*/\1/p')
  [ -n "$tag" ] || die "cannot read the PostgreSQL version from '$ver'"
  image=localhost/cnpg-e2e/postgresql:$tag
  log "building $image (postgresql-$PG_MAJOR $ver)"
  c=$(buildah_ from scratch)
  buildah_ add --quiet "$c" "$tmp/rootfs.tar" / >/dev/null
  buildah_ config --user 26 --workingdir /var/lib/postgresql \
    --env "PATH=/usr/lib/postgresql/$PG_MAJOR/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --env LANG=C.UTF-8 --env PGDATA=/var/lib/postgresql/data/pgdata \
    --label "org.opencontainers.image.version=$ver" \
    --cmd '["postgres"]' "$c"
  commit_archive "$c" "$image" "$archive"
  printf '%s\n' "$image" >"$namefile"
  rm -rf "$tmp"
}

pause_archive=$IMAGES/pause-$(recipe_hash "$CLUSTER_DIR/pause/pause.c").tar
operator_archive=$IMAGES/cloudnative-pg-$CNPG_VERSION-$( (declare -f build_operator && cat "$CNPG_MANAGER_BIN") | sha256sum | cut -c1-12).tar
pg_key=$(printf '%s\n%s\n%s\n' "$PG_MAJOR" "$PG_HOOK_ESSENTIAL" "$PG_HOOK_CUSTOMIZE" | sha256sum | cut -c1-12)
pg_archive=$IMAGES/postgresql-$PG_MAJOR-$pg_key.tar
pg_name=$IMAGES/postgresql-$PG_MAJOR-$pg_key.name

if [ "$list_only" = 0 ]; then
  [ -f "$pause_archive" ] || build_pause "$pause_archive"
  [ -f "$operator_archive" ] || build_operator "$operator_archive"
  if [ ! -f "$pg_archive" ] || [ ! -f "$pg_name" ]; then build_postgresql "$pg_archive" "$pg_name"; fi
  # Drop archives of earlier recipes (the cache would otherwise only grow).
  for f in "$IMAGES"/pause-*.tar "$IMAGES"/cloudnative-pg-*.tar "$IMAGES"/postgresql-*.tar "$IMAGES"/postgresql-*.name; do
    case "$f" in "$pause_archive" | "$operator_archive" | "$pg_archive" | "$pg_name") ;; *) rm -f "$f" ;; esac
  done
fi
for f in "$pause_archive" "$operator_archive" "$pg_archive" "$pg_name"; do
  [ -f "$f" ] || die "$f is missing (run test/cluster/build.sh)"
done
printf '%s %s\n' "$pause_archive" "$PAUSE_IMAGE" "$operator_archive" "$OPERATOR_IMAGE" "$pg_archive" "$(cat "$pg_name")"
