#!/usr/bin/env bash
# Prepares this machine to build and run the container image with Debian's
# podman: installs podman, runc, debootstrap (for the local base image) and
# writes /etc/containers/containers.conf. Idempotent; needs root only when
# something is missing.
#
# Choices, each needed on a host like the CI machine (cgroup v1, no systemd
# as PID 1, a sandbox that refuses setrlimit for containers):
#   runtime runc        crun fails on this cgroup layout
#   cgroupfs            there is no systemd to ask for cgroups
#   default_ulimits []  podman's default nofile/nproc ulimits are not permitted
#   events file         no journald
set -euo pipefail
log() { echo "image-setup: $*" >&2; }

pkgs=(podman runc debootstrap)
need=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
need_root() {
  [[ "$(id -u)" -eq 0 ]] || { log "needs root to $*"; exit 1; }
}
if (( ${#need[@]} > 0 )); then
  need_root "install ${need[*]}"
  log "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

conf=/etc/containers/containers.conf
want='# Written by hack/image/setup.sh (keepalived-vip-operator).
[containers]
default_ulimits = []

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"'
if [[ ! -f "$conf" ]] || [[ "$(cat "$conf")" != "$want" ]]; then
  need_root "write $conf"
  if [[ -f "$conf" ]] && ! grep -q "hack/image/setup.sh" "$conf"; then
    cp "$conf" "$conf.orig"
    log "kept the previous $conf as $conf.orig"
  fi
  mkdir -p /etc/containers
  printf '%s\n' "$want" >"$conf"
  log "wrote $conf"
fi
