// Parsing of `ip -j addr` output and the decisions made from it: which
// interface carries the host IP, which VIPs keepalived left behind. Pure.
import { ANNOTATION_INTERFACES, ANNOTATION_IPVS, MAX_PUBLISHED_INTERFACES, canonicalIP, type NodeInstance } from "../api/index.js";

/** One address on an interface. */
export interface InterfaceAddress {
  /** Canonical IP literal. */
  address: string;
  prefixLength: number;
  family: 4 | 6;
}

/** An interface and its addresses, as `ip -j addr` reports them. */
export interface LinkAddresses {
  name: string;
  addresses: InterfaceAddress[];
}

function parseAddrInfo(raw: unknown): InterfaceAddress | undefined {
  const a = raw as { family?: unknown; local?: unknown; prefixlen?: unknown } | null;
  if (typeof a?.local !== "string" || typeof a.prefixlen !== "number") return undefined;
  const family = a.family === "inet" ? 4 : a.family === "inet6" ? 6 : undefined;
  const address = canonicalIP(a.local);
  if (!family || !address) return undefined;
  return { address, prefixLength: a.prefixlen, family };
}

/** Parses the JSON printed by `ip -j addr`; entries it cannot read are skipped. Throws on non-JSON or a non-array. */
export function parseIpAddrJson(text: string): LinkAddresses[] {
  const data: unknown = JSON.parse(text);
  if (!Array.isArray(data)) throw new Error("ip -j addr: expected a JSON array");
  const out: LinkAddresses[] = [];
  for (const raw of data) {
    const link = raw as { ifname?: unknown; addr_info?: unknown } | null;
    if (typeof link?.ifname !== "string" || link.ifname === "") continue;
    const infos = Array.isArray(link.addr_info) ? (link.addr_info as unknown[]) : [];
    const addresses = infos.map(parseAddrInfo).filter((a): a is InterfaceAddress => a !== undefined);
    out.push({ name: link.ifname, addresses });
  }
  return out;
}

/** The interface that carries `hostIP`, or undefined when none does (or the IP is not an IP). */
export function findHostInterface(links: readonly LinkAddresses[], hostIP: string): string | undefined {
  const want = canonicalIP(hostIP.trim());
  if (!want) return undefined;
  return links.find((l) => l.addresses.some((a) => a.address === want))?.name;
}

/**
 * The interface names the agent publishes (sorted), so that the operator can
 * refuse a spec.interface no node has. Every link counts (a node's eth0 may be
 * a veth, as in a container). Undefined when there are more than
 * MAX_PUBLISHED_INTERFACES: an incomplete list would refuse VirtualIPs wrongly.
 */
export function publishedInterfaces(links: readonly LinkAddresses[]): string[] | undefined {
  const names = [...new Set(links.map((l) => l.name))].sort();
  return names.length > MAX_PUBLISHED_INTERFACES ? undefined : names;
}

/** The Lease annotations that say what the node has: its interface names and whether it has IPVS. */
export function nodeFactsAnnotations(facts: { interfaces?: readonly string[]; ipvs?: boolean }): Record<string, string> {
  const out: Record<string, string> = {};
  if (facts.interfaces !== undefined) out[ANNOTATION_INTERFACES] = facts.interfaces.join(",");
  if (facts.ipvs !== undefined) out[ANNOTATION_IPVS] = String(facts.ipvs);
  return out;
}

/** Most host addresses an agent publishes. */
export const MAX_HOST_ADDRESSES = 32;

/**
 * The node's own addresses the agent publishes so that no VirtualIP ever
 * takes one: the host IP and every address of `iface` that is not a host
 * route (/32, /128 are what keepalived adds for VIPs). Sorted, at most
 * {@link MAX_HOST_ADDRESSES}.
 */
export function hostAddresses(links: readonly LinkAddresses[], iface: string | undefined, hostIP: string | undefined): string[] {
  const out = new Set<string>();
  const host = hostIP !== undefined ? canonicalIP(hostIP.trim()) : undefined;
  if (host) out.add(host);
  for (const a of links.find((l) => l.name === iface)?.addresses ?? []) {
    if (a.prefixLength < (a.family === 4 ? 32 : 128)) out.add(a.address);
  }
  return [...out].sort().slice(0, MAX_HOST_ADDRESSES);
}

/** An address to remove from an interface. */
export interface AddressOnLink {
  interface: string;
  address: string;
  prefixLength: number;
}

/** "interface address/prefix" of an address on a link: how snapshots name it. */
export function addressKey(iface: string, a: { address: string; prefixLength: number }): string {
  return `${iface} ${a.address}/${a.prefixLength}`;
}

/** Every address on every link, as snapshot keys (see {@link addressKey}), sorted. */
export function snapshotAddresses(links: readonly LinkAddresses[]): string[] {
  return [...new Set(links.flatMap((l) => l.addresses.map((a) => addressKey(l.name, a))))].sort();
}

/**
 * The VIPs keepalived left on their interfaces, to be removed after it died.
 * Only what keepalived itself adds counts: a host route (/32, /128) whose
 * address is a VIP of `instances`, on the instance's interface, and that was
 * not there before keepalived started (`preexisting`, from a snapshot taken
 * just before; undefined when none was taken). Never the host IP, never an
 * address with a shorter prefix (the node's own /24 or /64 equal to a VIP).
 */
export function planLeftoverVips(
  links: readonly LinkAddresses[],
  instances: readonly NodeInstance[],
  hostIP?: string,
  preexisting?: ReadonlySet<string>,
): AddressOnLink[] {
  const host = hostIP ? canonicalIP(hostIP) : undefined;
  const out: AddressOnLink[] = [];
  const seen = new Set<string>();
  for (const inst of instances) {
    const link = links.find((l) => l.name === inst.interface);
    if (!link) continue;
    for (const vip of inst.addresses) {
      const want = canonicalIP(vip);
      if (!want || want === host) continue;
      for (const a of link.addresses) {
        const key = addressKey(link.name, a);
        if (a.address !== want || seen.has(key)) continue;
        if (a.prefixLength !== (a.family === 4 ? 32 : 128) || preexisting?.has(key)) continue;
        seen.add(key);
        out.push({ interface: link.name, address: a.address, prefixLength: a.prefixLength });
      }
    }
  }
  return out;
}
