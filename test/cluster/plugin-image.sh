#!/usr/bin/env bash
# Build the CNPG-I plugin's image for the end-to-end cluster with buildah (no
# registry, nothing pulled) and import it into the cluster's containerd:
# the PostgreSQL image of images.sh (Debian bookworm: glibc and libstdc++ for
# Node) + this machine's node binary + packages/{core,probe,plugin} built, their
# production dependencies and the CNPG-I .proto files; entrypoint
# cnpg-disk-plugin. The same image is the plugin's Deployment and the sidecar.
#
#   plugin-image.sh   prints "<archive> <image>"; builds only when the inputs changed
set -euo pipefail
# shellcheck source=lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
repo=$(cd "$CLUSTER_DIR/../.." && pwd)

BUILDAH_ROOT=$CACHE/buildah
buildah_() { buildah --root "$BUILDAH_ROOT/root" --runroot "$BUILDAH_ROOT/runroot" --storage-driver vfs "$@"; }

pg_line=$(bash "$CLUSTER_DIR/images.sh" --list | sed -n 3p)
pg_archive=${pg_line% *}
protos=$(bash "$repo/packages/plugin/scripts/protos.sh")
( cd "$repo" && node node_modules/typescript/bin/tsc -b packages/plugin ) >&2

key=$( {
  cat "$0" "$(command -v node)" "$pg_archive.name" 2>/dev/null || true
  printf '%s\n' "$pg_line"
  find "$repo"/packages/{core,probe,plugin}/dist "$protos" -type f -print0 | sort -z | xargs -0 cat
  cat "$repo/package-lock.json"
} | sha256sum | cut -c1-12)
image=localhost/cnpg-e2e/cnpg-disk-plugin:$key
archive=$IMAGES/cnpg-disk-plugin-$key.tar

if [ ! -f "$archive" ]; then
  log "building $image"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  app=$tmp/app
  mkdir -p "$app"
  # Production dependencies of the three packages, from the npm cache when it has them.
  node -e '
    const lock = require(process.argv[1] + "/package-lock.json").packages;
    const deps = {};
    for (const p of ["packages/plugin", "packages/probe"]) {
      for (const [n, v] of Object.entries(lock[p].dependencies || {})) if (!n.startsWith("@cnpg-disk/")) deps[n] = v;
    }
    require("fs").writeFileSync(process.argv[2] + "/package.json", JSON.stringify({ name: "cnpg-disk-plugin-image", private: true, dependencies: deps }));
  ' "$repo" "$app"
  (cd "$app" && npm install --omit=dev --no-audit --no-fund --prefer-offline --ignore-scripts >&2)
  for p in core probe plugin; do
    mkdir -p "$app/node_modules/@cnpg-disk/$p"
    cp -r "$repo/packages/$p/package.json" "$repo/packages/$p/dist" "$app/node_modules/@cnpg-disk/$p/"
  done
  mkdir -p "$app/node_modules/@cnpg-disk/plugin/build"
  cp -r "$protos" "$app/node_modules/@cnpg-disk/plugin/build/protos"
  find "$app/node_modules/@cnpg-disk" -name '*.map' -delete
  # The plugin runs as an unprivileged user (65532 in the Deployment, 26 in the sidecar): all readable.
  chmod -R a+rX "$app"
  printf '#!/bin/sh\nexec /usr/local/bin/node /opt/cnpg-disk/node_modules/@cnpg-disk/plugin/dist/bin.js "$@"\n' >"$tmp/cnpg-disk-plugin"
  chmod 0755 "$tmp/cnpg-disk-plugin"
  c=$(buildah_ from --quiet "docker-archive:$pg_archive")
  buildah_ copy --quiet "$c" "$(command -v node)" /usr/local/bin/node >/dev/null
  buildah_ copy --quiet "$c" "$app" /opt/cnpg-disk >/dev/null
  buildah_ copy --quiet "$c" "$tmp/cnpg-disk-plugin" /usr/local/bin/cnpg-disk-plugin >/dev/null
  buildah_ config --entrypoint '["/usr/local/bin/cnpg-disk-plugin"]' --cmd '' --user 26:26 --workingdir / "$c"
  id=$(buildah_ commit --rm --quiet "$c" "$image")
  rm -f "$archive.tmp"
  buildah_ push --quiet "$id" "docker-archive:$archive.tmp:$image" >/dev/null
  buildah_ rmi "$id" >/dev/null
  mv -f "$archive" "$archive.old" 2>/dev/null || true
  mv -f "$archive.tmp" "$archive"
  rm -f "$archive.old"
  for f in "$IMAGES"/cnpg-disk-plugin-*.tar; do [ "$f" = "$archive" ] || rm -f "$f"; done
fi
if [ -S "$CONTAINERD_SOCK" ] && ! has_image "$image"; then
  ctr --address "$CONTAINERD_SOCK" -n k8s.io images import "$archive" >/dev/null
  has_image "$image" || die "$image is not in containerd after import"
fi
printf '%s %s\n' "$archive" "$image"
