# keepalived-vip-operator. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help
# Node.js: the pinned release (hack/node-toolchain.env) that `make deps`
# installs (hack/install-node.sh); its bin/ goes first on the PATH, so npx, npm
# and every `node` a recipe or a test starts are that release too.
include hack/node-toolchain.env
NODE_ARCH := $(subst aarch64,arm64,$(subst x86_64,x64,$(shell uname -m)))
NODE_HOME ?= $(or $(NODE_TOOLCHAIN_CACHE),$(HOME)/.cache/keepalived-vip-operator/node)/v$(NODE_VERSION)-linux-$(NODE_ARCH)
export PATH := $(NODE_HOME)/bin:$(PATH)
NODE ?= $(NODE_HOME)/bin/node
RUN_TESTS := $(NODE) scripts/run-tests.mjs

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  %-20s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: deps
deps: ## Install Debian packages and npm packages that are missing
	@hack/install-deps.sh

.PHONY: generate
generate: deps ## Regenerate the CRD (and chart copy) from the zod schema
	npx tsx scripts/generate.ts

.PHONY: build
build: deps ## Compile TypeScript to dist/
	npx tsc -p tsconfig.build.json

.PHONY: lint
lint: deps ## Run eslint and check the formatting (prettier; `make format` applies it)
	npx eslint .
	npx prettier --check .

.PHONY: format
format: deps ## Format the TypeScript and JavaScript sources with prettier
	npx prettier --write .

.PHONY: typecheck
typecheck: deps ## Type-check sources and tests
	npx tsc -p tsconfig.json --noEmit

.PHONY: test-unit
test-unit: deps ## Unit tests (schema, CRD, renderer with real keepalived --config-test, CLI)
	$(RUN_TESTS) test/unit

.PHONY: k8s-bins
k8s-bins: ## Build once (cached) or locate kube-apiserver, etcd, kubectl, helm for the tests (KUBEBUILDER_ASSETS skips the build)
	@dir="$$(hack/k8s-bins.sh)" && echo "k8s binaries: $$dir"

.PHONY: require-root
require-root:
	@[ "$$(id -u)" -eq 0 ] || { echo "test-integration needs root (network namespaces, bind mounts): run it as root" >&2; exit 1; }

.PHONY: test-integration
test-integration: require-root deps k8s-bins ## Integration tests: real kube-apiserver + etcd, network-namespace nodes (needs root)
	$(RUN_TESTS) test/integration

.PHONY: test-e2e
test-e2e: deps k8s-bins ## End-to-end: real failover on simulated nodes (namespaces, keepalived, agents, operator, podman image); needs root
	@[ "$$(id -u)" -eq 0 ] || { echo "test-e2e needs root (network namespaces, keepalived, podman): run it as root" >&2; exit 1; }
	$(RUN_TESTS) test/e2e

.PHONY: node-bins
node-bins: ## Build once (cached) kubelet, kube-controller-manager, kube-scheduler, containerd and pause for the kubelet nodes
	@hack/k8s-bins.sh kubelet kube-controller-manager kube-scheduler >/dev/null && dir="$$(hack/node-bins.sh)" && echo "node binaries: $$dir"

.PHONY: test-kubelet
test-kubelet: deps k8s-bins node-bins ## The chart on three real kubelet + containerd nodes: install, agent pod delete, helm upgrade, drain, API outage, uninstall (needs root, podman)
	@[ "$$(id -u)" -eq 0 ] || { echo "test-kubelet needs root (network namespaces, cgroups, containerd, podman): run it as root" >&2; exit 1; }
	$(RUN_TESTS) test/kubelet

.PHONY: kubelet-cluster
kubelet-cluster: deps k8s-bins node-bins ## Three real kubelet + containerd nodes with the image of `make image`, left running (state in .dev/kubelet); needs root
	@[ "$$(id -u)" -eq 0 ] || { echo "kubelet-cluster needs root (network namespaces, cgroups, containerd): run it as root" >&2; exit 1; }
	@hack/kubelet-cluster.sh start

.PHONY: kubelet-cluster-down
kubelet-cluster-down: ## Stop the kubelet cluster and remove everything it created
	@hack/kubelet-cluster.sh stop

.PHONY: bench-failover
bench-failover: deps k8s-bins ## Failover times (VIP and status), failed requests and double-claim time for 1s and 100ms adverts x 5 faults (3 crashes; planned: drain, sigterm); table + one JSON line (BENCH_RUNS, BENCH_INTERVALS, BENCH_FAULTS); needs root
	@[ "$$(id -u)" -eq 0 ] || { echo "bench-failover needs root (network namespaces, keepalived): run it as root" >&2; exit 1; }
	$(NODE) --import tsx test/bench/failover/bench.ts

.PHONY: bench-soak
bench-soak: deps k8s-bins ## Idle VirtualIPs (10ms and 100ms adverts) under CPU hogs in every node: transitions, double claims, lost requests, load; table + one JSON line (BENCH_SOAK_MINUTES, BENCH_INTERVALS, BENCH_HOGS_PER_NODE); needs root
	@[ "$$(id -u)" -eq 0 ] || { echo "bench-soak needs root (network namespaces, keepalived): run it as root" >&2; exit 1; }
	$(NODE) --import tsx test/bench/soak/bench.ts

.PHONY: demo
demo: deps k8s-bins ## Three simulated nodes, control plane, operator, agents, samples, a real failover; left running (state in .dev/demo; DEMO_NODES=kubelet: real kubelet nodes and the chart, .dev/kubelet); needs root
	@[ "$${DEMO_NODES:-}" != kubelet ] || $(MAKE) --no-print-directory node-bins
	@[ "$$(id -u)" -eq 0 ] || { echo "demo needs root (network namespaces, keepalived): run it as root" >&2; exit 1; }
	@hack/demo.sh up

.PHONY: demo-down
demo-down: ## Stop the demo and remove everything it created
	@hack/demo.sh down

.PHONY: bench-operator
bench-operator: deps k8s-bins build ## Operator at scale: 1,000 VirtualIPs over 50 Nodes on a real control plane, up to BENCH_VIPS=10000 BENCH_NODES=500 (BENCH_NODES_PER_VIP=N: each on N Nodes); prints one JSON line
	$(NODE) --import tsx test/bench/operator/bench.ts

.PHONY: bench-plan
bench-plan: deps ## The operator's planning in process, no control plane: one full pass phase by phase, then updates through the reconciler (BENCH_VIPS, BENCH_NODES, BENCH_NODES_PER_VIP); two JSON lines
	$(NODE) --import tsx test/bench/plan/profile.ts
	$(NODE) --max-old-space-size=256 --max-semi-space-size=4 --import tsx test/bench/plan/update.ts

.PHONY: bench-render
bench-render: deps ## Pure renderer at scale: planCluster on 1,000 kube-proxy and 200 ipvs VirtualIPs over 50 Nodes; median of 5 runs, one JSON line
	$(NODE) --import tsx test/bench/render/bench.ts

.PHONY: dev-cluster
dev-cluster: deps k8s-bins ## Start a local control plane with the CRD in the background; kubeconfig in .dev/kubeconfig
	@hack/dev-cluster.sh start

.PHONY: dev-cluster-down
dev-cluster-down: ## Stop the dev-cluster control plane and remove its state
	@hack/dev-cluster.sh stop

.PHONY: audit
audit: deps ## Known advisories in the production dependencies (npm audit --omit=dev; needs the registry; see docs/supply-chain.md)
	$(NODE) scripts/audit.mjs

.PHONY: test
test: deps build lint typecheck test-unit test-integration test-e2e test-kubelet ## Everything: build, lint, type-check, every test tier

.PHONY: clean
clean: ## Remove build output
	rm -rf dist

.PHONY: base-image
base-image: ## Build the local base images (debootstrap; + the pinned Node.js) if missing; needs root
	@hack/image/setup.sh
	@hack/image/base-image.sh

.PHONY: image
image: ## Build the container image with podman (IMAGE=...; BASE_IMAGE=node:24-bookworm-slim RUNTIME_BASE_IMAGE=debian:bookworm-slim to pull the bases)
	@hack/image/setup.sh
	@hack/image/build.sh

.PHONY: test-packaging
test-packaging: deps k8s-bins ## Helm chart, kustomize, RBAC and container image tests (real API server, podman; needs root)
	@[ "$$(id -u)" -eq 0 ] || { echo "test-packaging needs root (podman, network namespaces): run it as root" >&2; exit 1; }
	$(RUN_TESTS) test/integration/packaging
