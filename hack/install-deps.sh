#!/usr/bin/env bash
# Installs what the build and the tests need on a fresh Debian machine:
# Debian packages (keepalived, iproute2, ...) and the npm packages.
# Idempotent: installs only what is missing. Needs root for apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v keepalived >/dev/null || need+=(keepalived)
command -v ip >/dev/null || need+=(iproute2)
command -v ipvsadm >/dev/null || need+=(ipvsadm)
command -v openssl >/dev/null || need+=(openssl)
command -v curl >/dev/null || need+=(curl)
command -v unshare >/dev/null || need+=(util-linux)
command -v ping >/dev/null || need+=(iputils-ping)
# The kubelet-node cluster (make kubelet-cluster, make test-kubelet): runc and the CNI plugins.
[ -x /usr/sbin/runc ] || need+=(runc)
[ -x /usr/lib/cni/bridge ] || need+=(containernetworking-plugins)
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing Debian packages: ${need[*]} (run as root, or install them)" >&2
    exit 1
  fi
  echo "installing Debian packages: ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

stamp=node_modules/.install-stamp
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  npm ci --no-audit --no-fund
  touch "$stamp"
fi
