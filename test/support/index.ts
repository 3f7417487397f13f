// Test harness: a real control plane (etcd + kube-apiserver), kubectl, and
// network-namespace nodes. Everything here does I/O and cleans up after itself.
export * from "./controlplane.js";
export * from "./kubectl.js";
export * from "./netns.js";
export { resolveK8sBins, REPO_ROOT, type K8sBins } from "./k8sbins.js";
export { runCommand, CommandError, type CommandResult, type RunOptions } from "./process.js";
export { sweepStaleRuns, RUN_STATE_ROOT, type SweepReport } from "./runstate.js";
export { registerCleanup } from "./cleanup.js";
export { createAgentPod, podBoundClientConfig, podBoundKubeconfig, type AgentPod } from "./agentpod.js";
