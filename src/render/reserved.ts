// Addresses that are never a virtual IP, whatever the pools say: special
// ranges (loopback, multicast, link-local, ...), the nodes' own addresses and
// the cluster's Service ranges. Pure.
import { ipToBigInt, parseAddressRange } from "../api/index.js";
import type { AddressRange, Family } from "../api/index.js";
import { compareStrings } from "./order.js";

/** A named range that may never be a virtual IP. */
export interface ReservedRange {
  range: AddressRange;
  what: string;
}

/** Ranges no VirtualIP may ever use, whatever the pools say. */
const SPECIAL_RANGES: readonly { cidr: string; what: string }[] = [
  { cidr: "0.0.0.0/8", what: "the unspecified IPv4 network (0.0.0.0/8)" },
  { cidr: "127.0.0.0/8", what: "loopback (127.0.0.0/8)" },
  { cidr: "169.254.0.0/16", what: "IPv4 link-local (169.254.0.0/16)" },
  { cidr: "224.0.0.0/4", what: "IPv4 multicast (224.0.0.0/4)" },
  { cidr: "255.255.255.255/32", what: "the limited broadcast address" },
  { cidr: "::/128", what: "the unspecified IPv6 address (::)" },
  { cidr: "::1/128", what: "IPv6 loopback (::1)" },
  { cidr: "::ffff:0:0/96", what: "IPv4-mapped IPv6 (::ffff:0:0/96)" },
  { cidr: "fe80::/10", what: "IPv6 link-local (fe80::/10)" },
  { cidr: "ff00::/8", what: "IPv6 multicast (ff00::/8)" },
];

function mustRange(cidr: string): AddressRange {
  const r = parseAddressRange(cidr);
  if (!r.ok) throw new Error(r.error);
  return r.value;
}

export const SPECIAL: readonly ReservedRange[] = SPECIAL_RANGES.map((s) => ({ range: mustRange(s.cidr), what: s.what }));

/** What may never be a virtual IP in this cluster: special ranges, the nodes' own addresses, the Service ranges. */
export interface ReservedSources {
  /** Node name -> its addresses (every Node address, and what its agent published). */
  nodeAddresses: ReadonlyMap<string, readonly string[]>;
  /** ServiceCIDR name -> its CIDRs. */
  serviceCIDRs: ReadonlyMap<string, readonly string[]>;
}

/** Index of reserved addresses. */
export interface Reserved {
  /** "family:value" of a node address -> the node. */
  nodes: Map<string, string>;
  ranges: ReservedRange[];
}

export function addressKey(family: Family, value: bigint): string {
  return `${family}:${value.toString(16)}`;
}

/** Builds the reserved-address index. */
export function indexReserved(sources: ReservedSources): Reserved {
  const nodes = new Map<string, string>();
  for (const [node, addrs] of [...sources.nodeAddresses].sort(([a], [b]) => compareStrings(a, b))) {
    for (const a of addrs) {
      const n = ipToBigInt(a);
      if (n && !nodes.has(addressKey(n.family, n.value))) nodes.set(addressKey(n.family, n.value), node);
    }
  }
  const ranges: ReservedRange[] = [...SPECIAL];
  for (const [name, cidrs] of [...sources.serviceCIDRs].sort(([a], [b]) => compareStrings(a, b))) {
    for (const c of cidrs) {
      const r = parseAddressRange(c);
      if (r.ok) ranges.push({ range: r.value, what: `the Service range ${c} (ServiceCIDR ${name})` });
    }
  }
  return { nodes, ranges };
}

/** What a reserved address collides with, or undefined when it may be used. */
export function reservedBy(reserved: Reserved, family: Family, value: bigint): string | undefined {
  const node = reserved.nodes.get(addressKey(family, value));
  if (node !== undefined) return `an address of Node ${node}`;
  return reserved.ranges.find((r) => r.range.family === family && r.range.first <= value && value <= r.range.last)?.what;
}
