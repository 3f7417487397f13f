// A node's keepalived.conf from the published plan: the shared instances
// (instance.json of each instance Secret) and the node's own values
// (node.json of its node Secret). The agent runs this on every change; the
// offline renderer and the tests run it for every node. Pure.
import type { NodeInstance, NodeInstanceMap, PublishedInstance, PublishedNode } from "../api/index.js";
import type { VirtualServer } from "./ipvs.js";
import { prepareInstance, renderNodeConf, type InstanceTemplate } from "./keepalived.js";
import { compareIP, sortedUnique } from "./order.js";
import { sha256Hex } from "../shared/hash.js";

/** Re-exported for the renderer's callers: the published digests are the shared hash. */
export { sha256Hex };

/** A node's assembled keepalived.conf and the instance map that goes with it. */
export interface AssembledConfig {
  config: string;
  /** sha256 hex of `config`. */
  hash: string;
  instances: NodeInstanceMap;
}

/** Why a node's config cannot be assembled yet, or at all. */
export type AssembleResult =
  | { ok: true; value: AssembledConfig }
  /**
   * Not yet: the published plan is between two writes (an instance the node
   * names is not published yet, or one address is in two instances while it
   * moves). The next change of either completes it.
   */
  | { ok: false; waiting: true; problem: string; missing: string[] }
  /** Never: a value is not safe to render (a bug or a tampered Secret). */
  | { ok: false; waiting: false; problem: string };

/** The addresses an instance carries, sorted (primary and excluded). */
function addressesOf(inst: PublishedInstance): string[] {
  return sortedUnique([inst.primaryAddress, ...inst.excludedAddresses], compareIP);
}

/**
 * Why `node` cannot run its instances at all when two of its entries would
 * render the same vrrp_instance (one instance named twice, or two instances
 * with one vrrp_instance name); undefined when they would not. The planner
 * never writes either, so this is a bug or a tampered Secret, not a wait.
 */
function instanceNamedTwice(node: PublishedNode, instances: ReadonlyMap<string, PublishedInstance>): string | undefined {
  const byName = new Map<string, string>();
  for (const e of node.instances) {
    const name = (instances.get(e.instance) as PublishedInstance).name;
    const other = byName.get(name);
    if (other !== undefined) return `node ${node.node} names vrrp_instance ${name} twice (as ${other} and ${e.instance})`;
    byName.set(name, e.instance);
  }
  return undefined;
}

/**
 * Assembles `node`'s keepalived.conf from its own values and the published
 * instances (by key: the name its entries give, see InstancePlan.name).
 * The text is exactly what the renderer would write for the node in one
 * piece. `templates` may carry prepared instances from an earlier call
 * (keyed by the instance object), so that a large config is not re-rendered
 * from scratch on each change.
 */
export function assembleNodeConfig(
  node: PublishedNode,
  instances: ReadonlyMap<string, PublishedInstance>,
  templates?: WeakMap<PublishedInstance, InstanceTemplate>,
  serverTexts?: WeakMap<VirtualServer, string>,
): AssembleResult {
  const missing = node.instances.filter((e) => !instances.has(e.instance)).map((e) => e.instance);
  if (missing.length > 0) {
    const shown = missing.slice(0, 5).join(", ") + (missing.length > 5 ? `, and ${missing.length - 5} more` : "");
    return { ok: false, waiting: true, problem: `waiting for ${missing.length} published instance(s): ${shown}`, missing };
  }
  const twice = instanceNamedTwice(node, instances);
  if (twice !== undefined) return { ok: false, waiting: false, problem: twice };
  const holder = new Map<string, string>();
  for (const e of node.instances) {
    const inst = instances.get(e.instance) as PublishedInstance;
    for (const a of addressesOf(inst)) {
      const other = holder.get(a);
      if (other !== undefined && other !== e.instance) {
        return { ok: false, waiting: true, problem: `address ${a} is in instances ${other} and ${e.instance}; waiting for the move to complete`, missing: [] };
      }
      holder.set(a, e.instance);
    }
  }
  try {
    const parts = node.instances.map((e) => {
      const inst = instances.get(e.instance) as PublishedInstance;
      let template = templates?.get(inst);
      if (!template) {
        template = prepareInstance(inst);
        templates?.set(inst, template);
      }
      return { inst, template, values: { interface: e.interface, priority: e.priority, ...(e.sourceIP !== undefined ? { sourceIP: e.sourceIP } : {}) } };
    });
    const config = renderNodeConf({
      node: node.node,
      runtimeDir: node.runtimeDir,
      instances: parts.map(({ template, values }) => ({ template, values })),
      virtualServers: parts.flatMap(({ inst }) => inst.virtualServers),
      ...(serverTexts ? { serverCache: serverTexts } : {}),
    });
    const entries: NodeInstance[] = node.instances.map((e) => {
      const inst = instances.get(e.instance) as PublishedInstance;
      return {
        instance: inst.name,
        virtualRouterId: inst.virtualRouterId,
        interface: e.interface,
        family: inst.family,
        priority: e.priority,
        addresses: addressesOf(inst),
        virtualIPs: [...inst.virtualIPs],
      };
    });
    entries.sort((a, b) => (a.instance < b.instance ? -1 : a.instance > b.instance ? 1 : 0));
    return { ok: true, value: { config, hash: sha256Hex(config), instances: { node: node.node, instances: entries } } };
  } catch (err) {
    return { ok: false, waiting: false, problem: err instanceof Error ? err.message : String(err) };
  }
}
