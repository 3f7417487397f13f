#!/usr/bin/env bash
# The demo: three simulated nodes (network namespaces) with real keepalived,
# the agents, two operator replicas and a real control plane, the samples
# applied and a failover shown; left running in the background.
#
#   hack/demo.sh up      # or: make demo
#   hack/demo.sh status
#   hack/demo.sh down    # or: make demo-down
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec node --import tsx test/e2e/demo.ts "${1:-up}"
