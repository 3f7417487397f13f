#!/usr/bin/env bash
# Provides the container runtime of the kubelet-node cluster
# (hack/kubelet-cluster.sh) and prints the directory that holds it as the
# last line of stdout:
#
#   NODE_BIN="$(hack/node-bins.sh)"   # containerd, containerd-shim-runc-v2, ctr, pause
#
# containerd is built from Go modules at the version test/k8s-bins/containerd/go.mod
# requires, and pause (the pods' sandbox process) from test/k8s-bins/pause/,
# into ${K8S_BINS_CACHE:-$HOME/.cache/keepalived-vip-operator/k8s}/containerd-<version>/
# (only what is missing or out of date). runc and the CNI plugins come from
# Debian (runc, containernetworking-plugins; hack/install-deps.sh installs
# them). The kubelet, controller manager and scheduler come from
# hack/k8s-bins.sh. Everything but the final path goes to stderr.
set -euo pipefail

exec 3>&1 1>&2
log() { echo "node-bins: $*" >&2; }
die() { log "$*"; exit 1; }

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ctr_mod="$root/test/k8s-bins/containerd"
pause_mod="$root/test/k8s-bins/pause"

for f in /usr/sbin/runc /usr/lib/cni/bridge /usr/lib/cni/host-local /usr/lib/cni/loopback; do
  [[ -x "$f" ]] || die "$f is missing: run hack/install-deps.sh (Debian runc, containernetworking-plugins)"
done

version="$(awk '$1 == "require" && $2 == "github.com/containerd/containerd/v2" { print $3; exit }' "$ctr_mod/go.mod")"
[[ "$version" =~ ^v2\.[0-9]+\.[0-9]+$ ]] || die "no github.com/containerd/containerd/v2 version in $ctr_mod/go.mod"
out="${K8S_BINS_CACHE:-$HOME/.cache/keepalived-vip-operator/k8s}/containerd-${version}"
mkdir -p "$out"

pkg=github.com/containerd/containerd/v2
ldflags="-s -w -X $pkg/version.Version=$version -X $pkg/version.Revision=unknown -X $pkg/version.Package=github.com/containerd/containerd"
tags="urfave_cli_no_docs no_btrfs no_devmapper no_zfs"
pause_sum="$(cat "$pause_mod/go.mod" "$pause_mod/main.go" | sha256sum | cut -c1-16)"

# name|module dir|package|tags|ldflags|stamp. The shim is built without grpc, as containerd's Makefile does.
targets=(
  "containerd|$ctr_mod|$pkg/cmd/containerd|$tags|$ldflags|$pkg@$version"
  "containerd-shim-runc-v2|$ctr_mod|$pkg/cmd/containerd-shim-runc-v2|$tags no_grpc|$ldflags|$pkg@$version"
  "ctr|$ctr_mod|$pkg/cmd/ctr|$tags|$ldflags|$pkg@$version"
  "pause|$pause_mod|.||-s -w|pause@$pause_sum"
)
is_current() { [[ -x "$out/$1" && -f "$out/.$1.stamp" && "$(cat "$out/.$1.stamp")" == "$2 $3" ]]; }

missing=()
for t in "${targets[@]}"; do
  IFS='|' read -r name dir p tg ld stamp <<<"$t"
  is_current "$name" "$stamp" "$ld" || missing+=("$t")
done

if (( ${#missing[@]} > 0 )); then
  go="${GO:-}"
  if [[ -z "$go" ]]; then
    if command -v go >/dev/null 2>&1; then go=go
    elif [[ -x /usr/local/go/bin/go ]]; then go=/usr/local/go/bin/go
    else die "Go is needed to build containerd and pause"
    fi
  fi
  exec 9>"$out/.lock"
  if ! flock -n 9; then
    log "another build into $out is running; waiting for it"
    flock 9
  fi
  rm -f "$out"/.*.tmp.*
  export CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS="-mod=mod -buildvcs=false"
  tmp=""
  trap '[[ -z "$tmp" ]] || rm -f "$tmp"' EXIT
  total_start=$SECONDS
  log "building into $out with $("$go" version)"
  for t in "${missing[@]}"; do
    IFS='|' read -r name dir p tg ld stamp <<<"$t"
    is_current "$name" "$stamp" "$ld" && continue
    tmp="$out/.$name.tmp.$$"
    log "building $name from $p"
    start=$SECONDS
    (cd "$dir" && "$go" build -p "${K8S_BINS_GO_P:-2}" -trimpath -tags "$tg" -ldflags "$ld" -o "$tmp" "$p")
    mv -f "$tmp" "$out/$name"
    tmp=""
    echo "$stamp $ld" >"$out/.$name.stamp"
    log "built $name in $((SECONDS - start))s"
  done
  log "all built in $((SECONDS - total_start))s"
fi

for t in "${targets[@]}"; do
  IFS='|' read -r name _ <<<"$t"
  [[ -x "$out/$name" ]] || die "$out/$name missing"
done
echo "$out" >&3
