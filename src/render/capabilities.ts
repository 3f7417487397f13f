// What the agents report about their nodes (interface names, IPVS) and the
// VirtualIPs the operator refuses up front because of it: an interface no
// selected node has, IPVS forwarding where no selected node has IPVS. Pure.
//
// Rule (ADR 0016): only nodes whose agent reports count. A VirtualIP is
// refused when at least one selected node reports and none of the reporting
// ones has what it needs; while no selected node reports (agents starting,
// older agents), nothing is refused here and the agents' own config test
// decides (ConfigRejected). A node that lacks what the others have is left
// to its agent too: it refuses the instance there, the others run it.
import { CONDITION_READY, ReadyReason } from "../api/index.js";
import type { VirtualIP } from "../api/index.js";
import type { Problem } from "./types.js";

/** What one node's agent published on its heartbeat Lease; undefined fields: not reported. */
export interface AgentCapabilities {
  /** Names of the node's interfaces. */
  interfaces?: readonly string[];
  /** Whether the node's kernel has IPVS. */
  ipvs?: boolean;
}

/** Most node names a message lists. */
const SHOWN = 5;

function listNodes(nodes: readonly string[]): string {
  return nodes.slice(0, SHOWN).join(", ") + (nodes.length > SHOWN ? ` and ${nodes.length - SHOWN} more` : "");
}

/**
 * Why `vip` cannot run on any of its taking-part `nodes` by what their agents
 * report; undefined when it can, or when no agent of them reports.
 */
export function capabilityProblem(key: string, vip: VirtualIP, nodes: readonly string[], caps: ReadonlyMap<string, AgentCapabilities>): Problem | undefined {
  const problem = (reason: ReadyReason, field: string, text: string): Problem => ({
    virtualIP: key,
    condition: CONDITION_READY,
    reason,
    message: `VirtualIP ${key}: ${field}: ${text}`,
    excluded: true,
  });
  const wanted = vip.spec.interface;
  if (wanted !== undefined) {
    const reporting = nodes.filter((n) => caps.get(n)?.interfaces !== undefined);
    if (reporting.length > 0 && !reporting.some((n) => caps.get(n)?.interfaces?.includes(wanted))) {
      const text = `interface ${wanted} is on none of the selected nodes that published their interfaces (${listNodes(reporting)}); name an interface they have, or leave spec.interface out to use each node's default`;
      return problem(ReadyReason.InterfaceNotFound, "spec.interface", text);
    }
  }
  if (vip.spec.forwarding === "ipvs") {
    const reporting = nodes.filter((n) => caps.get(n)?.ipvs !== undefined);
    if (reporting.length > 0 && !reporting.some((n) => caps.get(n)?.ipvs === true)) {
      const text = `ipvs forwarding needs IPVS in the node's kernel, and the agents of the selected nodes (${listNodes(reporting)}) report none; load the ip_vs module on the nodes, or use forwarding: kube-proxy`;
      return problem(ReadyReason.IPVSUnavailable, "spec.forwarding", text);
    }
  }
  return undefined;
}
