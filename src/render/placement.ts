// Where a VIP may be MASTER beyond its priorities: nodes without a ready
// local endpoint of an `externalTrafficPolicy: Local` Service stand by, and
// cordoned or excluded nodes hand their instances over. The agents turn both
// into keepalived track-file values, never into config text (docs/adr/0018).
// Pure.
import type { V1EndpointSlice, V1Node } from "@kubernetes/client-node";
import type { HandoverReason } from "../api/index.js";
import type { InstanceMembers } from "./instances.js";
import type { ViewIndex } from "./view.js";

/** Node label that keeps a node out of external load balancers (the well-known Kubernetes label; any value). */
export const LABEL_EXCLUDE_FROM_LOAD_BALANCERS = "node.kubernetes.io/exclude-from-external-load-balancers";

/**
 * Why `node` should hold no VIP, or undefined: cordoned (`spec.unschedulable`,
 * which is also the first step of a drain), or labelled
 * node.kubernetes.io/exclude-from-external-load-balancers.
 */
export function planHandover(node: V1Node): HandoverReason | undefined {
  if (node.spec?.unschedulable === true) return "Unschedulable";
  if (node.metadata?.labels && Object.prototype.hasOwnProperty.call(node.metadata.labels, LABEL_EXCLUDE_FROM_LOAD_BALANCERS))
    return "ExcludedFromLoadBalancers";
  return undefined;
}

/** Nodes that have a ready endpoint in `slices` (an endpoint without a ready condition counts as ready, as in the API). */
export function nodesWithReadyEndpoints(slices: readonly V1EndpointSlice[]): Set<string> {
  const out = new Set<string>();
  for (const s of slices) {
    for (const ep of s.endpoints ?? []) {
      if (ep.conditions?.ready === false || !ep.nodeName) continue;
      out.add(ep.nodeName);
    }
  }
  return out;
}

/**
 * The taking-part nodes of `planned` that stand by: the instance carries a
 * VirtualIP with `forwarding: kube-proxy` in front of an
 * `externalTrafficPolicy: Local` Service (kube-proxy drops its traffic on a
 * node without a local endpoint), and the node lacks a ready endpoint of one
 * of those Services while at least one other taking-part node has a ready
 * endpoint of every one of them. When no node has (every endpoint gone, or
 * none where the instance runs), nobody stands by: the VIP stays where it is.
 * `forwarding: ipvs` reaches endpoints on every node, so it never restricts.
 */
export function planStandby(planned: InstanceMembers, index: ViewIndex): Set<string> {
  const nodes = [...new Set(planned.instance.nodes)];
  let eligible: Set<string> | undefined;
  for (const member of planned.members) {
    if (member.vip.spec.forwarding !== "kube-proxy") continue;
    const serviceKey = `${member.namespace}/${member.vip.spec.serviceRef.name}`;
    const service = index.services.get(serviceKey);
    if (service?.spec?.externalTrafficPolicy !== "Local") continue;
    const ready = nodesWithReadyEndpoints(index.endpointSlicesByService.get(serviceKey) ?? []);
    eligible = new Set(nodes.filter((n) => ready.has(n) && (eligible?.has(n) ?? true)));
  }
  if (eligible === undefined || eligible.size === 0) return new Set();
  const standby = new Set(nodes.filter((n) => !eligible.has(n)));
  // Make before break: a node that is MASTER now stands by only once a node
  // that may take over reports BACKUP or MASTER. A node leaving standby is in
  // FAULT until its agent applies the plan, and a FAULT node ignores the
  // priority-0 advert of the one going: it would wait a whole master-down
  // interval instead of taking over at once.
  const states = nodeStates(planned);
  const canTakeOver = [...eligible].some((n) => states.get(n)?.has("BACKUP") || states.get(n)?.has("MASTER"));
  if (!canTakeOver) for (const n of standby) if (states.get(n)?.has("MASTER")) standby.delete(n);
  return standby;
}

/** Node -> the VRRP states its agent reports on the instance's VirtualIPs. */
function nodeStates(planned: InstanceMembers): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const member of planned.members) {
    for (const e of member.vip.status?.nodes ?? []) {
      const set = out.get(e.name) ?? new Set<string>();
      set.add(e.state);
      out.set(e.name, set);
    }
  }
  return out;
}
