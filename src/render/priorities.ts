// The VRRP priority of every taking-part node in every instance: distinct,
// ranked by rendezvous hashing and balanced so that MASTERs spread evenly
// over the nodes. Pure. Why and how: docs/adr/0014-ranked-priorities.md.
//
// Decisions:
// - Default priorities lie in PRIORITY_TOP..PRIORITY_BOTTOM (250..100): the
//   node of rank 0 gets 250, the last rank 100, evenly spaced (distinct for up
//   to 151 nodes; deeper ranks share 100), so the skew
//   times of two ranks differ by a good part of an advert interval and the
//   first BACKUP takes over before the second one's timer runs out. 251..254
//   and 1..99 are left free: a node can be lowered below every other (handover)
//   without a reload by a weight of 150 or more.
// - The MASTER (rank 0) of the instances over one node set is balanced: each
//   node is rank 0 of floor(n/k) or ceil(n/k) of the n instances over those
//   k nodes. The instances are taken in key order; each gets the first node
//   in its rendezvous order that still has room ("consistent hashing with
//   bounded loads"), so a node joining or leaving moves few MASTERs.
//   The other ranks follow the rendezvous order.
// - An instance whose VirtualIPs list a priority for any of its nodes
//   (spec.vrrp.priorities) is the user's: listed nodes get their value, the
//   others 100, 99, 98, ... in rendezvous order, skipping listed values (the
//   old default was 100 for all). Such instances are left out of balancing.

/** Priority of rank 0 of an instance with default priorities. */
export const PRIORITY_TOP = 250;
/** Priority of the last rank of an instance with default priorities (and of every rank past the 150th). */
export const PRIORITY_BOTTOM = 100;
/** The highest priority a node not listed gets in an instance with explicit priorities. */
export const PRIORITY_UNLISTED = 100;

/** What ranking needs of one VRRP instance. */
export interface RankInput {
  /** The instance's unique key in the plan (its published name). */
  key: string;
  /** Taking-part nodes (any order). */
  nodes: readonly string[];
  /** Explicit priorities (spec.vrrp.priorities) of its VirtualIPs; nodes not taking part are ignored. */
  explicit: Readonly<Record<string, number>>;
}

/** 32-bit FNV-1a of `text`, then the murmur3 finalizer (every input bit reaches every output bit). */
function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The rendezvous weight of `node` for instance `key`: the same on every operator, in every release. */
export function rendezvousWeight(key: string, node: string): number {
  return hash32(`${key}\u0000${node}`);
}

/** `nodes` in rendezvous order for `key`: highest weight first, ties by name. */
export function rendezvousOrder(key: string, nodes: readonly string[]): string[] {
  return nodes
    .map((node) => ({ node, weight: rendezvousWeight(key, node) }))
    .sort((a, b) => b.weight - a.weight || (a.node < b.node ? -1 : a.node > b.node ? 1 : 0))
    .map((x) => x.node);
}

/**
 * Default priority of `rank` (0 = MASTER) among `count` nodes: 250 down to
 * 100, evenly spaced and rounded (steps of at least 1, so distinct for up to
 * 151 nodes); past rank 150 every rank gets 100.
 */
export function rankPriority(rank: number, count: number): number {
  if (count <= 1) return PRIORITY_TOP;
  const step = Math.max(1, (PRIORITY_TOP - PRIORITY_BOTTOM) / (count - 1));
  return Math.max(PRIORITY_BOTTOM, Math.round(PRIORITY_TOP - rank * step));
}

/** Listed nodes their value; the others 100, 99, ... in rendezvous order, skipping listed values (never below 1). */
function explicitPriorities(input: RankInput, listed: Map<string, number>): Record<string, number> {
  const taken = new Set(listed.values());
  const out: Record<string, number> = {};
  let next = PRIORITY_UNLISTED;
  for (const node of rendezvousOrder(input.key, input.nodes)) {
    const own = listed.get(node);
    if (own !== undefined) {
      out[node] = own;
      continue;
    }
    while (next > 1 && taken.has(next)) next--;
    out[node] = next;
    if (next > 1) next--;
  }
  return out;
}

/**
 * Picks rank 0 of each instance of one node set: the first node in its
 * rendezvous order with room, where room is floor(n/k) for every node and
 * one more for the first n mod k nodes to get there.
 */
function balancedMasters(group: RankInput[], nodes: readonly string[]): Map<string, string> {
  const base = Math.floor(group.length / nodes.length);
  let extra = group.length % nodes.length;
  const load = new Map(nodes.map((n) => [n, 0]));
  const out = new Map<string, string>();
  for (const inst of group) {
    for (const node of rendezvousOrder(inst.key, nodes)) {
      const l = load.get(node) ?? 0;
      if (l < base || (l === base && extra > 0)) {
        if (l === base) extra--;
        load.set(node, l + 1);
        out.set(inst.key, node);
        break;
      }
    }
  }
  return out;
}

/** Rank 0 as balanced, the others in rendezvous order, each rank its default priority. */
function defaultPriorities(input: RankInput, master: string | undefined): Record<string, number> {
  const order = rendezvousOrder(input.key, input.nodes);
  const ranked = master === undefined ? order : [master, ...order.filter((n) => n !== master)];
  return Object.fromEntries(ranked.map((node, rank) => [node, rankPriority(rank, ranked.length)]));
}

/**
 * Plans the priority of every node of every instance (keyed by instance
 * key). Deterministic: the same instances in any order give the same result.
 */
export function planPriorities(instances: readonly RankInput[]): Map<string, Record<string, number>> {
  const out = new Map<string, Record<string, number>>();
  const groups = new Map<string, RankInput[]>();
  for (const inst of instances) {
    const nodes = [...new Set(inst.nodes)].sort();
    const listed = new Map(nodes.filter((n) => Object.prototype.hasOwnProperty.call(inst.explicit, n)).map((n) => [n, inst.explicit[n] ?? PRIORITY_UNLISTED]));
    if (listed.size > 0) {
      out.set(inst.key, explicitPriorities({ ...inst, nodes }, listed));
      continue;
    }
    const set = nodes.join("\n");
    const group = groups.get(set);
    if (group) group.push({ ...inst, nodes });
    else groups.set(set, [{ ...inst, nodes }]);
  }
  for (const group of groups.values()) {
    group.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const masters = balancedMasters(group, group[0]?.nodes ?? []);
    for (const inst of group) out.set(inst.key, defaultPriorities(inst, masters.get(inst.key)));
  }
  // Keys in node order, so the published JSON reads the same way for every instance.
  for (const [key, prios] of out) out.set(key, Object.fromEntries(Object.entries(prios).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));
  return out;
}
