#!/usr/bin/env bash
# Installs what the build and the tests need on a fresh Debian machine:
# Debian packages (keepalived, iproute2, ...), the pinned Node.js with its npm
# (hack/install-node.sh, versions in hack/node-toolchain.env) and the npm
# packages (npm ci, run by that Node.js).
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

node_home="$(hack/install-node.sh)"
export PATH="$node_home/bin:$PATH"

# Reinstall when the lock file or the Node.js version changed.
stamp=node_modules/.install-stamp
want="$(node --version) $(npm --version)"
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  npm ci --no-audit --no-fund
  echo "$want" >"$stamp"
fi
