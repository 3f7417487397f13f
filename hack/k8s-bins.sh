#!/usr/bin/env bash
# Provides kube-apiserver, etcd, kubectl and helm for the integration tests and
# prints the directory that holds them as the last line of stdout:
#
#   BIN="$(hack/k8s-bins.sh)"
#
# With arguments it provides those binaries instead of the four: the
# kubelet-node cluster (hack/kubelet-cluster.sh) asks for
#
#   hack/k8s-bins.sh kube-apiserver etcd kubectl helm kubelet kube-controller-manager kube-scheduler
#
# If KUBEBUILDER_ASSETS names a directory that already holds all of them, that
# directory is used as is. Otherwise the binaries are built from Go modules
# into ${K8S_BINS_CACHE:-$HOME/.cache/keepalived-vip-operator/k8s}/<k8s version>/
# (only those missing there). The versions come from test/k8s-bins/go.mod and
# test/k8s-bins/helm/go.mod; change them with test/k8s-bins/gen-replaces.sh.
#
# A cold build needs Go (the version in test/k8s-bins/go.mod or newer), the
# Go module proxy, a few GB of disk, and takes minutes (see
# test/k8s-bins/NOTES.md). Everything but the final path goes to stderr.
set -euo pipefail

exec 3>&1 1>&2
log() { echo "k8s-bins: $*" >&2; }
die() { log "$*"; exit 1; }

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
k8s_mod="$root/test/k8s-bins"
helm_mod="$k8s_mod/helm"
bins=(kube-apiserver etcd kubectl helm)
(( $# == 0 )) || bins=("$@")

has_all() {
  local b
  for b in "${bins[@]}"; do
    [[ -f "$1/$b" && -x "$1/$b" ]] || return 1
  done
}

if [[ -n "${KUBEBUILDER_ASSETS:-}" ]]; then
  if has_all "$KUBEBUILDER_ASSETS"; then
    echo "$KUBEBUILDER_ASSETS" >&3
    exit 0
  fi
  log "KUBEBUILDER_ASSETS=${KUBEBUILDER_ASSETS} lacks one of ${bins[*]}; using the build cache"
fi

# First version of a module required in a go.mod (require block or line).
mod_version() {
  awk -v m="$2" '
    $1 == "require" && $2 == m { print $3; exit }
    $1 == m && $2 ~ /^v[0-9]/ { print $2; exit }
  ' "$1"
}

k8s_version="$(mod_version "$k8s_mod/go.mod" k8s.io/kubernetes)"
etcd_version="$(mod_version "$k8s_mod/go.mod" go.etcd.io/etcd/server/v3)"
helm_version="$(mod_version "$helm_mod/go.mod" helm.sh/helm/v3)"
helm_client_go="$(mod_version "$helm_mod/go.mod" k8s.io/client-go)"
[[ "$k8s_version" =~ ^v([0-9]+)\.([0-9]+)\.[0-9]+$ ]] ||
  die "no k8s.io/kubernetes version in $k8s_mod/go.mod"
k8s_major="${BASH_REMATCH[1]}"
k8s_minor="${BASH_REMATCH[2]}"
[[ -n "$etcd_version" ]] || die "no go.etcd.io/etcd/server/v3 version in $k8s_mod/go.mod"
[[ -n "$helm_version" ]] || die "no helm.sh/helm/v3 version in $helm_mod/go.mod"
# helm reports the Kubernetes version of its client libraries (v0.N.x -> 1.N)
# as .Capabilities.KubeVersion for `helm template`; its Makefile derives it so.
[[ "$helm_client_go" =~ ^v0\.([0-9]+)\. ]] ||
  die "no k8s.io/client-go version in $helm_mod/go.mod"
helm_kube_minor="${BASH_REMATCH[1]}"

out="${K8S_BINS_CACHE:-$HOME/.cache/keepalived-vip-operator/k8s}/${k8s_version}"
mkdir -p "$out"

# Fixed version stamps: the same sources and Go release give the same binary.
k8s_ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  k8s_ldflags+=" -X ${pkg}.gitVersion=${k8s_version}"
  k8s_ldflags+=" -X ${pkg}.gitMajor=${k8s_major}"
  k8s_ldflags+=" -X ${pkg}.gitMinor=${k8s_minor}"
  k8s_ldflags+=" -X ${pkg}.gitCommit=unknown"
  k8s_ldflags+=" -X ${pkg}.gitTreeState=clean"
  k8s_ldflags+=" -X ${pkg}.buildDate=1970-01-01T00:00:00Z"
done
etcd_ldflags="-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=unknown"
helm_ldflags="-s -w"
helm_ldflags+=" -X helm.sh/helm/v3/internal/version.version=${helm_version}"
helm_ldflags+=" -X helm.sh/helm/v3/internal/version.metadata="
helm_ldflags+=" -X helm.sh/helm/v3/internal/version.gitCommit=" # empty: `helm version --short` prints v3.22.0
helm_ldflags+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
  helm_ldflags+=" -X ${pkg}.k8sVersionMajor=1 -X ${pkg}.k8sVersionMinor=${helm_kube_minor}"
done

# name|module dir|package|ldflags. The stamp file next to each binary records
# what it was built from, so a version change in go.mod rebuilds it.
targets=(
  "etcd|$k8s_mod|go.etcd.io/etcd/server/v3|$etcd_ldflags"
  "kube-apiserver|$k8s_mod|k8s.io/kubernetes/cmd/kube-apiserver|$k8s_ldflags"
  "kubectl|$k8s_mod|k8s.io/kubernetes/cmd/kubectl|$k8s_ldflags"
  "helm|$helm_mod|helm.sh/helm/v3/cmd/helm|$helm_ldflags"
  "kubelet|$k8s_mod|k8s.io/kubernetes/cmd/kubelet|$k8s_ldflags"
  "kube-controller-manager|$k8s_mod|k8s.io/kubernetes/cmd/kube-controller-manager|$k8s_ldflags"
  "kube-scheduler|$k8s_mod|k8s.io/kubernetes/cmd/kube-scheduler|$k8s_ldflags"
)
wanted() {
  local b
  for b in "${bins[@]}"; do [[ "$b" == "$1" ]] && return 0; done
  return 1
}
for b in "${bins[@]}"; do
  # No pipe into grep -q here: under pipefail, grep closing early can SIGPIPE the writer.
  known=0
  for t in "${targets[@]}"; do [[ "$t" == "$b|"* ]] && known=1; done
  ((known)) || die "unknown binary '$b'"
done
stamp_of() {
  case "$1" in
    etcd) echo "go.etcd.io/etcd/server/v3@${etcd_version} ${2}" ;;
    helm) echo "helm.sh/helm/v3@${helm_version} ${2}" ;;
    *) echo "k8s.io/kubernetes@${k8s_version} ${2}" ;;
  esac
}
is_current() {
  [[ -f "$out/$1" && -x "$out/$1" && -f "$out/.$1.stamp" ]] &&
    [[ "$(cat "$out/.$1.stamp")" == "$(stamp_of "$1" "$2")" ]]
}

missing=()
for t in "${targets[@]}"; do
  IFS='|' read -r name dir pkg ldflags <<<"$t"
  wanted "$name" || continue
  is_current "$name" "$ldflags" || missing+=("$t")
done

if (( ${#missing[@]} > 0 )); then
  go="${GO:-}"
  if [[ -z "$go" ]]; then
    if command -v go >/dev/null 2>&1; then go=go
    elif [[ -x /usr/local/go/bin/go ]]; then go=/usr/local/go/bin/go
    else die "Go is needed to build ${bins[*]}; install it or set KUBEBUILDER_ASSETS"
    fi
  fi

  # One build at a time per cache directory; a second caller waits and then
  # finds the binaries present.
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$out/.lock"
    if ! flock -n 9; then
      log "another build into $out is running; waiting for it"
      flock 9
    fi
    rm -f "$out"/.*.tmp.* # left behind by a killed build
  fi

  export CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS="-mod=mod -buildvcs=false"
  tmp=""
  trap '[[ -z "$tmp" ]] || rm -f "$tmp"' EXIT
  total_start=$SECONDS
  log "building into $out with $("$go" version)"
  for t in "${missing[@]}"; do
    IFS='|' read -r name dir pkg ldflags <<<"$t"
    if is_current "$name" "$ldflags"; then
      continue # built by a concurrent caller while we waited
    fi
    tmp="$out/.$name.tmp.$$"
    log "building $name from $pkg"
    start=$SECONDS
    (cd "$dir" && "$go" build -p "${K8S_BINS_GO_P:-2}" -trimpath -ldflags "$ldflags" -o "$tmp" "$pkg")
    mv -f "$tmp" "$out/$name"
    tmp=""
    stamp_of "$name" "$ldflags" >"$out/.$name.stamp"
    log "built $name in $((SECONDS - start))s"
  done
  log "all built in $((SECONDS - total_start))s"
fi

has_all "$out" || die "binaries missing in $out"
echo "$out" >&3
