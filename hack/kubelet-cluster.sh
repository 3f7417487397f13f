#!/usr/bin/env bash
# Three real nodes in the background for trying the chart by hand: the test
# control plane plus kube-controller-manager and kube-scheduler, and node-a,
# node-b, node-c, each a network namespace (192.0.2.11-13) running its own
# containerd and kubelet, with the image of `make image` imported under the
# chart's default name; a client namespace at 192.0.2.100. Needs root.
# State in .dev/kubelet/ (kubeconfig, bin/kubectl, bin/helm, state.json).
#
#   hack/kubelet-cluster.sh start    # or: make kubelet-cluster
#   hack/kubelet-cluster.sh status
#   hack/kubelet-cluster.sh stop     # or: make kubelet-cluster-down
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec node --import tsx test/support/kubeletdev.ts "${1:-start}"
