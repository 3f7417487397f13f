#!/usr/bin/env bash
# Builds the local base image (default localhost/keepalived-vip-base:bookworm)
# that the Dockerfile starts from when no registry can be reached: a Debian
# bookworm minbase root made by debootstrap, plus this machine's own Node.js
# runtime and npm copied in, imported with `podman import`.
# Does nothing when the image exists with this machine's Node.js version
# (FORCE=1 rebuilds). Needs root.
#
# Environment: BASE_IMAGE (image name), DEBIAN_MIRROR (default: the first
# Debian mirror of /etc/apt/sources.list*), NODE (the node binary to copy).
set -euo pipefail
log() { echo "base-image: $*" >&2; }
die() { log "$*"; exit 1; }

image="${BASE_IMAGE:-localhost/keepalived-vip-base:bookworm}"
suite=bookworm

node_bin="$(readlink -f "${NODE:-$(command -v node)}")"
[[ -x "$node_bin" ]] || die "no node binary found"
node_version="$("$node_bin" --version)"

# Up to date: the image exists and carries this machine's Node.js version.
if [[ "${FORCE:-0}" != 1 ]] && podman image exists "$image"; then
  have="$(podman image inspect --format '{{ index .Labels "io.keepalived-vip.node-version" }}' "$image" 2>/dev/null || true)"
  if [[ "$have" == "$node_version" ]]; then
    log "$image exists with node $node_version; nothing to do (FORCE=1 rebuilds it)"
    exit 0
  fi
  log "$image has node ${have:-unknown}, this machine $node_version; rebuilding"
fi
[[ "$(id -u)" -eq 0 ]] || die "needs root (debootstrap, podman)"
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

[[ "$node_version" == v20.* ]] || log "warning: node $node_version is not Node 20"
# npm as installed next to node (Debian/NodeSource: /usr/lib/node_modules/npm;
# official tarballs: <prefix>/lib/node_modules/npm).
npm_dir=""
for d in "$(dirname "$node_bin")/../lib/node_modules/npm" /usr/lib/node_modules/npm /usr/local/lib/node_modules/npm; do
  if [[ -f "$d/bin/npm-cli.js" ]]; then npm_dir="$(readlink -f "$d")"; break; fi
done
[[ -n "$npm_dir" ]] || die "npm not found next to $node_bin"

work="$(mktemp -d /var/tmp/keepalived-vip-base.XXXXXX)"
trap 'rm -rf "$work"' EXIT
root="$work/root"
start=$SECONDS

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

log "adding node $node_version from $node_bin and npm from $npm_dir"
install -m 0755 "$node_bin" "$root/usr/bin/node"
mkdir -p "$root/usr/lib/node_modules"
cp -a "$npm_dir" "$root/usr/lib/node_modules/npm"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/bin/npx"
chroot "$root" /usr/bin/node --version >/dev/null || die "node does not run inside the new root"

log "importing as $image"
tar --numeric-owner -C "$root" -c . |
  podman import --quiet \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["/bin/bash"]' \
    --change "LABEL org.opencontainers.image.description=\"Debian $suite minbase with Node.js $node_version\"" \
    --change "LABEL io.keepalived-vip.node-version=$node_version" \
    - "$image" >/dev/null
log "built $image in $((SECONDS - start))s"
