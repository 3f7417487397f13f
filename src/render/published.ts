// Every node's keepalived.conf from a whole plan, as the agents assemble
// them (the offline renderer, tests and benchmarks use it). Pure.
import type { NodeInstanceMap, PublishedInstance } from "../api/index.js";
import { assembleNodeConfig } from "./assemble.js";
import type { VirtualServer } from "./ipvs.js";
import type { InstanceTemplate } from "./keepalived.js";
import type { ClusterPlan } from "./types.js";

/** One node's keepalived.conf, assembled from a plan. */
export interface RenderedNodeConfig {
  node: string;
  config: string;
  /** sha256 hex of `config`. */
  hash: string;
  instances: NodeInstanceMap;
}

/**
 * Assembles every node's keepalived.conf of `plan`, sorted by node name.
 * Throws when a node cannot be assembled (a plan always names only instances
 * it publishes, so that is a bug).
 */
export function renderNodeConfigs(plan: Pick<ClusterPlan, "nodes" | "published">): RenderedNodeConfig[] {
  const instances = new Map<string, PublishedInstance>(plan.published.map((p) => [p.name, p.published]));
  const templates = new WeakMap<PublishedInstance, InstanceTemplate>();
  const serverTexts = new WeakMap<VirtualServer, string>();
  return plan.nodes.map((np) => {
    const res = assembleNodeConfig(np.published, instances, templates, serverTexts);
    if (!res.ok) throw new Error(`Cannot assemble the config of node ${np.node}: ${res.problem}`);
    return { node: np.node, ...res.value };
  });
}
