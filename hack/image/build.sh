#!/usr/bin/env bash
# Builds the container image with podman (runc), making the local base image
# first when it is missing. Repeated runs reuse podman's layer cache and an npm
# cache mount, so only changed stages rebuild.
#
# Environment: IMAGE (default localhost/keepalived-vip-operator:dev),
# BASE_IMAGE (default localhost/keepalived-vip-base:bookworm; any other value,
# e.g. node:20-bookworm-slim, is used as is and may be pulled),
# BUILD_CA_BUNDLE (CA bundle for npm inside the build; default: the host's
# NODE_EXTRA_CA_CERTS or npm cafile, if set).
set -euo pipefail
log() { echo "image: $*" >&2; }

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
image="${IMAGE:-localhost/keepalived-vip-operator:dev}"
base="${BASE_IMAGE:-localhost/keepalived-vip-base:bookworm}"
version="$(node -p 'require(process.argv[1]).version' "$root/package.json")"

command -v podman >/dev/null || { log "podman missing; run hack/image/setup.sh (as root)"; exit 1; }

pull=(--pull=never)
if [[ "$base" == localhost/* ]]; then
  BASE_IMAGE="$base" "$root/hack/image/base-image.sh"
else
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
  --build-arg "BASE_IMAGE=$base" --build-arg "VERSION=$version" \
  -t "$image" -f "$root/Dockerfile" "$root"
log "built $image in $((SECONDS - start))s"
