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

/** 32-bit FNV-1a state after `text`, continuing from `h`. */
function fnv1a(text: string, h = 0x811c9dc5): number {
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h;
}

/** The murmur3 finalizer: every input bit reaches every output bit. */
function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The rendezvous weight of `node` for instance `key`: FNV-1a of
 * `<key>\0<node>` and the murmur3 finalizer. The same on every operator, in
 * every release (changing it moves MASTERs).
 */
export function rendezvousWeight(key: string, node: string): number {
  return mix32(fnv1a(node, fnv1a("\u0000", fnv1a(key))));
}

/** `nodes` in rendezvous order for `key`: highest weight first, ties by name. */
export function rendezvousOrder(key: string, nodes: readonly string[]): string[] {
  const prefix = fnv1a("\u0000", fnv1a(key));
  const weights = nodes.map((node) => mix32(fnv1a(node, prefix)));
  return nodes
    .map((_, i) => i)
    .sort((a, b) => (weights[b] ?? 0) - (weights[a] ?? 0) || ((nodes[a] ?? "") < (nodes[b] ?? "") ? -1 : 1))
    .map((i) => nodes[i] ?? "");
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

/** Listed nodes their value; the others 100, 99, ... in rendezvous order, skipping listed values (never below 1); keys in node order. */
function explicitPriorities(input: RankInput, listed: Map<string, number>): Record<string, number> {
  const taken = new Set(listed.values());
  const values = new Map(listed);
  let next = PRIORITY_UNLISTED;
  for (const node of rendezvousOrder(input.key, input.nodes)) {
    if (listed.has(node)) continue;
    while (next > 1 && taken.has(next)) next--;
    values.set(node, next);
    if (next > 1) next--;
  }
  return Object.fromEntries(input.nodes.map((node) => [node, values.get(node) ?? PRIORITY_UNLISTED]));
}

/**
 * Picks rank 0 of each instance of one node set: the first node in its
 * rendezvous order with room, where room is floor(n/k) for every node and
 * one more for the first n mod k nodes to get there.
 */
function balancedMasters(group: Ordered[], nodes: readonly string[]): Map<string, string> {
  const base = Math.floor(group.length / nodes.length);
  let extra = group.length % nodes.length;
  const load = new Map(nodes.map((n) => [n, 0]));
  const out = new Map<string, string>();
  for (const inst of group) {
    for (const node of inst.order) {
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

/** An instance with its nodes sorted and in rendezvous order (computed once: the costly part at scale). */
interface Ordered {
  key: string;
  nodes: string[];
  order: string[];
}

/** Rank 0 as balanced, the others in rendezvous order, each rank its default priority; keys in node order. */
function defaultPriorities(input: Ordered, master: string | undefined): Record<string, number> {
  const ranked = master === undefined ? input.order : [master, ...input.order.filter((n) => n !== master)];
  const rank = new Map(ranked.map((node, r) => [node, r]));
  return Object.fromEntries(input.nodes.map((node) => [node, rankPriority(rank.get(node) ?? 0, ranked.length)]));
}

/**
 * Plans the priority of every node of every instance (keyed by instance
 * key). Deterministic: the same instances in any order give the same result.
 */
export function planPriorities(instances: readonly RankInput[]): Map<string, Record<string, number>> {
  const out = new Map<string, Record<string, number>>();
  const groups = new Map<string, { nodes: string[]; members: Ordered[] }>();
  for (const inst of instances) {
    const nodes = [...new Set(inst.nodes)].sort();
    const listed = new Map(nodes.filter((n) => Object.prototype.hasOwnProperty.call(inst.explicit, n)).map((n) => [n, inst.explicit[n] ?? PRIORITY_UNLISTED]));
    if (listed.size > 0) {
      out.set(inst.key, explicitPriorities({ ...inst, nodes }, listed));
      continue;
    }
    const set = nodes.join("\n");
    const member = { key: inst.key, nodes, order: rendezvousOrder(inst.key, nodes) };
    const group = groups.get(set);
    if (group) group.members.push(member);
    else groups.set(set, { nodes, members: [member] });
  }
  for (const { nodes, members } of groups.values()) {
    members.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const masters = balancedMasters(members, nodes);
    for (const inst of members) out.set(inst.key, defaultPriorities(inst, masters.get(inst.key)));
  }
  return out;
}
