#!/usr/bin/env bash
# Builds the container image with podman (runc), making the local base image
# first when it is missing. Repeated runs reuse podman's layer cache and an npm
# cache mount, so only changed stages rebuild.
#
# Environment: IMAGE (default localhost/keepalived-vip-operator:dev),
# BASE_IMAGE (build stages; default localhost/keepalived-vip-node:v<pinned
# Node.js>-bookworm) and RUNTIME_BASE_IMAGE (runtime stage; default
# localhost/keepalived-vip-debian:bookworm), made by base-image.sh when local;
# any other values, e.g. node:24-bookworm-slim and debian:bookworm-slim, are
# used as is and may be pulled),
# BUILD_CA_BUNDLE (CA bundle for npm inside the build; default: the host's
# NODE_EXTRA_CA_CERTS or npm cafile, if set).
set -euo pipefail
log() { echo "image: $*" >&2; }

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
image="${IMAGE:-localhost/keepalived-vip-operator:dev}"
# shellcheck source=hack/node-toolchain.env
. "$root/hack/node-toolchain.env"
base="${BASE_IMAGE:-localhost/keepalived-vip-node:v$NODE_VERSION-bookworm}"
runtime_base="${RUNTIME_BASE_IMAGE:-localhost/keepalived-vip-debian:bookworm}"
# The one version source: package.json.
version="$(sed -n 's/^  "version": "\([^"]*\)",$/\1/p' "$root/package.json")"
[[ -n "$version" ]] || { log "no version in package.json"; exit 1; }
revision="$(git -C "$root" rev-parse HEAD 2>/dev/null || echo unknown)"
if [[ "$revision" != unknown ]] && ! git -C "$root" diff --quiet HEAD 2>/dev/null; then revision="$revision-dirty"; fi
created="$(date -u +%Y-%m-%dT%H:%M:%SZ)"

command -v podman >/dev/null || { log "podman missing; run hack/image/setup.sh (as root)"; exit 1; }

pull=(--pull=never)
if [[ "$base" == localhost/* || "$runtime_base" == localhost/* ]]; then
  BASE_IMAGE="$base" RUNTIME_BASE_IMAGE="$runtime_base" "$root/hack/image/base-image.sh"
fi
if [[ "$base" != localhost/* || "$runtime_base" != localhost/* ]]; then
  pull=(--pull=missing)
fi

ca="${BUILD_CA_BUNDLE:-${NODE_EXTRA_CA_CERTS:-}}"
if [[ -z "$ca" ]] && command -v npm >/dev/null; then
  ca="$(npm config get cafile 2>/dev/null || true)"
  [[ "$ca" == null || "$ca" == undefined ]] && ca=""
fi
secret=()
if [[ -n "$ca" && -s "$ca" ]]; then
  secret=(--secret "id=npm-ca,src=$ca")
fi

start=$SECONDS
podman build "${pull[@]}" --runtime runc --layers --jobs 2 \
  "${secret[@]}" \
  --build-arg "BASE_IMAGE=$base" --build-arg "RUNTIME_BASE_IMAGE=$runtime_base" \
  --build-arg "VERSION=$version" --build-arg "REVISION=$revision" --build-arg "CREATED=$created" \
  -t "$image" -f "$root/Dockerfile" "$root"
log "built $image in $((SECONDS - start))s"
