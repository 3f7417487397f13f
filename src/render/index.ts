// Public surface of the renderer: cluster view in, VRRP instances, problems
// and the published plan out; per-node keepalived.conf assembled from it. Pure: no I/O, clock, environment or logger.
export * from "./types.js";
export { planCluster, sortProblems } from "./plan.js";
export { indexView, resolveOptions } from "./view.js";
export type { ViewIndex, ResolvedOptions } from "./view.js";
export { planCandidate, planCandidates, priorityOf } from "./candidates.js";
export type { Candidate, AuthState } from "./candidates.js";
export { planConflicts, differingFields } from "./conflicts.js";
export type { ConflictPlan } from "./conflicts.js";
export { planInstances, instanceName } from "./instances.js";
export type { PlannedInstance } from "./instances.js";
export { planVirtualServers, serviceEndpointSlices, LABEL_SERVICE_NAME } from "./ipvs.js";
export type { VirtualServer, VirtualServerInput, RealServer, IpvsProtocol } from "./ipvs.js";
export { renderKeepalivedConf, advertIntervalText } from "./keepalived.js";
export { assembleNodeConfig, sha256Hex } from "./assemble.js";
export type { AssembledConfig, AssembleResult } from "./assemble.js";
export { renderNodeConfigs } from "./published.js";
export type { RenderedNodeConfig } from "./published.js";
export type { KeepalivedConfInput, KeepalivedInstance } from "./keepalived.js";
export { matchesLabelSelector } from "./selector.js";
export { nodeInternalIP, nodeDefaultInterface, isInterfaceName } from "./nodes.js";
export type { DefaultInterfaceSources } from "./nodes.js";
export { parseAuthPassword, MAX_AUTH_PASSWORD } from "./auth.js";
export type { AuthPasswordResult } from "./auth.js";
export { compareAge, compareIP, objectKey } from "./order.js";
export { assertConfigShape, sanitizeName } from "./tokens.js";
