// Grouping of admitted VirtualIPs into cluster-wide VRRP instances and the
// instances' names. Pure.
//
// Why one address in virtual_ipaddress: keepalived puts the addresses of
// virtual_ipaddress in every advert, and a BACKUP whose configured list
// differs from a received advert ignores it as bogus and takes over: a
// failover (or two MASTERs) each time an address is added to or removed from
// a shared instance while the nodes briefly run different configs. So every
// instance carries exactly one address in virtual_ipaddress, its primary:
// the address of its member with the oldest claim, which stays the same for as long as that
// member exists. All other addresses go to virtual_ipaddress_excluded, which
// keepalived adds and removes with the instance state but never advertises.
import type { Family } from "../api/index.js";
import type { Candidate } from "./candidates.js";
import { differingFields, routerIdKey } from "./conflicts.js";
import { compareClaims } from "./claims.js";
import { compareIP, compareStrings, sortedUnique } from "./order.js";
import type { VrrpInstance } from "./types.js";

/** An instance with its members, as node planning needs it. */
export interface InstanceMembers {
  instance: VrrpInstance;
  /** Member candidates, oldest claim first: the first one holds the primary address and the auth settings. */
  members: Candidate[];
}

/**
 * keepalived vrrp_instance name: `vip_<family>_<router id>`, plus
 * `_<interface>` when the members name an interface (a name the schema has
 * already restricted to `[A-Za-z0-9_.-]`). It depends only on what makes the
 * instance distinct on a node, so it is the same on every node, and two
 * instances on one node never share it: same name means same router id,
 * family and interface, which conflict detection allows only for one instance.
 */
export function instanceName(virtualRouterId: number, family: Family, interfaceSpec: string | undefined): string {
  const base = `vip_${family}_${virtualRouterId}`;
  return interfaceSpec === undefined ? base : `${base}_${interfaceSpec}`;
}

function buildInstance(members: Candidate[]): VrrpInstance {
  const first = members[0];
  if (!first) throw new Error("An instance needs at least one member");
  return {
    name: instanceName(first.virtualRouterId, first.family, first.interfaceSpec),
    virtualRouterId: first.virtualRouterId,
    interfaces: { ...first.interfaces },
    family: first.family,
    version: first.version,
    advertIntervalMs: first.advertIntervalMs,
    preempt: first.preempt,
    ...(first.preemptDelayMs > 0 ? { preemptDelayMs: first.preemptDelayMs } : {}),
    unicast: first.unicast,
    nodes: [...first.nodes],
    priorities: { ...first.priorities },
    addresses: sortedUnique(
      members.map((m) => m.address),
      compareIP,
    ),
    virtualIPs: sortedUnique(members.map((m) => m.key)),
    primaryAddress: first.address,
  };
}

/**
 * Groups `candidates` (already free of conflicts and problems) into VRRP
 * instances: the same router id, family, interface, node set and VRRP
 * settings make one instance. Sorted by name, then node list.
 */
export function planInstances(candidates: Candidate[]): InstanceMembers[] {
  const groups: Candidate[][] = [];
  /** The groups by family and router id (only those can take a candidate), in creation order. */
  const byRouterId = new Map<string, Candidate[][]>();
  for (const c of [...candidates].sort(compareClaims)) {
    const id = routerIdKey(c);
    const same = byRouterId.get(id) ?? [];
    const group = same.find((g) => {
      const head = g[0];
      return head !== undefined && differingFields(head, c).length === 0;
    });
    if (group) group.push(c);
    else {
      groups.push([c]);
      same.push(groups[groups.length - 1] as Candidate[]);
      byRouterId.set(id, same);
    }
  }
  return groups
    .map((members) => ({ instance: buildInstance(members), members }))
    .sort((a, b) => compareStrings(a.instance.name, b.instance.name) || compareStrings(a.instance.nodes.join(","), b.instance.nodes.join(",")));
}
