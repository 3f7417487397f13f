#!/usr/bin/env bash
# Installs the pinned Node.js (hack/node-toolchain.env) with npm beside it,
# laid out as an official Node.js tarball (bin/node, bin/npm, bin/npx,
# lib/node_modules/npm), and prints its directory as the last line of stdout:
#
#   NODE_HOME="$(hack/install-node.sh)"
#
# Into ${NODE_TOOLCHAIN_CACHE:-$HOME/.cache/keepalived-vip-operator/node}/
# v<version>-linux-<arch>/. Both come from the npm registry (node-linux-<arch>
# and npm packages, fetched with `npm pack`); each tarball must match the
# integrity pinned in hack/node-toolchain.env. Any npm can bootstrap it (this
# script installs Debian's when none is there). Idempotent, flock-protected;
# everything but the final path goes to stderr.
set -euo pipefail
exec 3>&1 1>&2
log() { echo "install-node: $*" >&2; }
die() { log "$*"; exit 1; }

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=hack/node-toolchain.env
. "$root/hack/node-toolchain.env"

case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64) arch=arm64 ;;
  *) die "no Node.js build pinned for $(uname -m)" ;;
esac
integrity_var="NODE_INTEGRITY_$arch"
node_integrity="${!integrity_var}"

cache="${NODE_TOOLCHAIN_CACHE:-$HOME/.cache/keepalived-vip-operator/node}"
home="$cache/v$NODE_VERSION-linux-$arch"
done_stamp="$home/.installed-npm-$NPM_VERSION"

if [[ -f "$done_stamp" ]]; then
  echo "$home" >&3
  exit 0
fi

mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
if [[ -f "$done_stamp" ]]; then
  echo "$home" >&3
  exit 0
fi

if ! command -v npm >/dev/null; then
  [[ "$(id -u)" -eq 0 ]] || die "npm is needed once to fetch Node.js $NODE_VERSION: install Debian's npm (as root)"
  log "installing Debian's npm to bootstrap"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends npm >/dev/null
fi

work="$(mktemp -d "$cache/.work.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# fetch NAME VERSION INTEGRITY: the tarball into $work, checked against INTEGRITY.
fetch() {
  local name="$1" version="$2" want="$3" out got
  log "fetching $name@$version"
  out="$(cd "$work" && npm pack "$name@$version" --json --no-audit --no-fund --loglevel=warn)"
  got="$(printf '%s' "$out" | sed -n 's/.*"integrity": *"\([^"]*\)".*/\1/p;T;q')"
  local file="$work/$name-$version.tgz"
  [[ -f "$file" ]] || die "npm pack did not write $file"
  # Recompute from the bytes, not only from what npm reports.
  local actual="sha512-$(openssl dgst -sha512 -binary "$file" | base64 -w0)"
  [[ "$actual" == "$want" ]] || die "$name@$version: integrity $actual, pinned $want"
  [[ -z "$got" || "$got" == "$want" ]] || die "$name@$version: npm reports integrity $got, pinned $want"
}
fetch "node-linux-$arch" "$NODE_VERSION" "$node_integrity"
fetch npm "$NPM_VERSION" "$NPM_INTEGRITY"

stage="$work/home"
mkdir -p "$stage/bin" "$stage/lib/node_modules/npm"
tar -xzf "$work/node-linux-$arch-$NODE_VERSION.tgz" -C "$work"
install -m 0755 "$work/package/bin/node" "$stage/bin/node"
cp "$work/package/LICENSE" "$stage/LICENSE"
rm -rf "$work/package"
tar -xzf "$work/npm-$NPM_VERSION.tgz" -C "$stage/lib/node_modules/npm" --strip-components=1
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$stage/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$stage/bin/npx"

have="$("$stage/bin/node" --version)"
[[ "$have" == "v$NODE_VERSION" ]] || die "the fetched node says $have, expected v$NODE_VERSION"
PATH="$stage/bin:$PATH" "$stage/bin/npm" --version >/dev/null || die "npm $NPM_VERSION does not run on node $have"

rm -rf "$home"
mv "$stage" "$home"
touch "$done_stamp"
log "installed node $have and npm $NPM_VERSION in $home"
echo "$home" >&3
