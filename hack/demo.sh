#!/usr/bin/env bash
# The demo: three simulated nodes (network namespaces) with real keepalived,
# the agents, two operator replicas and a real control plane, the samples
# applied and a failover shown; left running in the background.
#
#   hack/demo.sh up      # or: make demo
#   hack/demo.sh status
#   hack/demo.sh down    # or: make demo-down
#
# DEMO_NODES=kubelet: the same story on three real kubelet + containerd nodes
# (hack/kubelet-cluster.sh) with the operator installed by its Helm chart.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ "${DEMO_NODES:-}" == kubelet ]]; then
  case "${1:-up}" in
    up) exec node --import tsx test/support/kubeletdev.ts start --demo ;;
    down) exec node --import tsx test/support/kubeletdev.ts stop ;;
    *) exec node --import tsx test/support/kubeletdev.ts status ;;
  esac
fi
if [[ "${1:-up}" == down && -f .dev/kubelet/state.json ]]; then
  node --import tsx test/support/kubeletdev.ts stop
fi
exec node --import tsx test/e2e/demo.ts "${1:-up}"
