#!/usr/bin/env bash
# A local control plane (etcd + kube-apiserver, the VirtualIP CRD installed)
# in the background, for trying things by hand; state and kubeconfig in .dev/.
#
#   hack/dev-cluster.sh start    # or: make dev-cluster
#   hack/dev-cluster.sh status
#   hack/dev-cluster.sh stop     # or: make dev-cluster-down
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec node --import tsx test/support/devcluster.ts "${1:-start}"
