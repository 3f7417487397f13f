#!/usr/bin/env bash
# Builds the two local base images the Dockerfile starts from when no registry
# can be reached:
#   RUNTIME_BASE_IMAGE (default localhost/keepalived-vip-debian:bookworm):
#     a Debian bookworm minbase root made by debootstrap, imported with
#     `podman import`; the runtime stage starts from it (no Node.js, no npm).
#   BASE_IMAGE (default localhost/keepalived-vip-node:v<NODE_VERSION>-bookworm):
#     that image plus the pinned Node.js (hack/node-toolchain.env, installed by
#     hack/install-node.sh) in /usr/local/bin/node and its npm in
#     /usr/local/lib/node_modules/npm, laid out as the official node images;
#     the build stages use it.
# Does nothing for an image that exists (FORCE=1 rebuilds both). Needs root.
#
# Environment: BASE_IMAGE, RUNTIME_BASE_IMAGE (image names), DEBIAN_MIRROR
# (default: the first Debian mirror of /etc/apt/sources.list*), NODE (the node
# binary to copy, with npm beside it; default: the pinned one).
set -euo pipefail
log() { echo "base-image: $*" >&2; }
die() { log "$*"; exit 1; }

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=hack/node-toolchain.env
. "$repo/hack/node-toolchain.env"
image="${BASE_IMAGE:-localhost/keepalived-vip-node:v$NODE_VERSION-bookworm}"
runtime_image="${RUNTIME_BASE_IMAGE:-localhost/keepalived-vip-debian:bookworm}"
suite=bookworm

have_image() { [[ "${FORCE:-0}" != 1 ]] && podman image exists "$1"; }
if have_image "$runtime_image" && have_image "$image"; then
  log "$runtime_image and $image exist; nothing to do (FORCE=1 rebuilds them)"
  exit 0
fi
[[ "$(id -u)" -eq 0 ]] || die "needs root (debootstrap, podman)"

if [[ -n "${NODE:-}" ]]; then
  node_bin="$(readlink -f "$NODE")"
else
  node_bin="$("$repo/hack/install-node.sh")/bin/node"
fi
[[ -x "$node_bin" ]] || die "no node binary at $node_bin"
node_version="$("$node_bin" --version)"
[[ "$node_version" == "v$NODE_VERSION" ]] || log "warning: node $node_version is not the pinned v$NODE_VERSION"
# npm as installed next to node (official tarball layout: <prefix>/lib/node_modules/npm).
npm_dir=""
for d in "$(dirname "$node_bin")/../lib/node_modules/npm" /usr/lib/node_modules/npm /usr/local/lib/node_modules/npm; do
  if [[ -f "$d/bin/npm-cli.js" ]]; then npm_dir="$(readlink -f "$d")"; break; fi
done
[[ -n "$npm_dir" ]] || die "npm not found next to $node_bin"

work="$(mktemp -d /var/tmp/keepalived-vip-base.XXXXXX)"
trap 'rm -rf "$work"' EXIT
root="$work/root"
start=$SECONDS

if ! have_image "$runtime_image"; then
command -v debootstrap >/dev/null || die "debootstrap missing; run hack/image/setup.sh"
# The Debian mirror this machine already uses (deb822 .sources or one-line .list).
mirror="${DEBIAN_MIRROR:-}"
if [[ -z "$mirror" ]]; then
  mirror="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
    grep -oE 'https?://[^ ]+/debian/?( |$)' | grep -v -- '-security' | head -n1 | tr -d ' ' || true)"
fi
mirror="${mirror:-http://deb.debian.org/debian}"
mirror="${mirror%/}"
security="${DEBIAN_SECURITY_MIRROR:-${mirror}-security}"

log "debootstrap --variant=minbase $suite from $mirror"
debootstrap --variant=minbase "$suite" "$root" "$mirror" >"$work/debootstrap.log" 2>&1 ||
  { tail -n 30 "$work/debootstrap.log" >&2; die "debootstrap failed"; }

cat >"$root/etc/apt/sources.list" <<SOURCES
deb $mirror $suite main
deb $mirror $suite-updates main
deb $security $suite-security main
SOURCES
# Keep images small: no docs, no man pages, no apt caches in layers.
cat >"$root/etc/dpkg/dpkg.cfg.d/01-keepalived-vip-nodoc" <<'NODOC'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
NODOC
cat >"$root/etc/apt/apt.conf.d/01-keepalived-vip-clean" <<'CLEAN'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
CLEAN
# As in Debian's official container images: package scripts never start services.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 0755 "$root/usr/sbin/policy-rc.d"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* \
  "$root"/usr/share/man/* "$root"/usr/share/locale/*

log "importing as $runtime_image"
tar --numeric-owner -C "$root" -c . |
  podman import --quiet \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["/bin/bash"]' \
    --change "LABEL org.opencontainers.image.description=\"Debian $suite minbase\"" \
    - "$runtime_image" >/dev/null
rm -rf "$root"
fi

log "adding node $node_version from $node_bin and npm from $npm_dir to $runtime_image"
ctx="$work/node"
mkdir -p "$ctx"
install -m 0755 "$node_bin" "$ctx/node"
cp -a "$npm_dir" "$ctx/npm"
cat >"$ctx/Containerfile" <<CONTAINERFILE
FROM $runtime_image
COPY node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\
    && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\
    && node --version && npm --version >/dev/null
LABEL org.opencontainers.image.description="Debian $suite minbase with Node.js $node_version" \\
      io.keepalived-vip.node-version=$node_version
CONTAINERFILE
podman build --quiet --pull=never --runtime runc -t "$image" -f "$ctx/Containerfile" "$ctx" >/dev/null
log "built $runtime_image and $image in $((SECONDS - start))s"
