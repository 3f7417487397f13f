// forwarding: ipvs — keepalived virtual_servers from a Service's ports to the
// ready endpoints of its EndpointSlices. Pure.
//
// Decisions: only TCP and UDP ports are forwarded (SCTP ports are left out);
// a port without any ready endpoint gets no virtual_server at all, because
// keepalived rejects a virtual_server without real servers ("has no real
// servers - ignoring", and --config-test fails).
import type { V1EndpointSlice, V1Service } from "@kubernetes/client-node";
import { parsedIP } from "./ipmemo.js";
import type { Family, VirtualIP } from "../api/index.js";
import { compareIP, compareStrings } from "./order.js";
import { objectKey } from "../shared/keys.js";

/** Label that ties an EndpointSlice to its Service. */
export const LABEL_SERVICE_NAME = "kubernetes.io/service-name";

export type IpvsProtocol = "TCP" | "UDP";

/** One backend of a virtual server. */
export interface RealServer {
  /** Canonical IP of the endpoint. */
  address: string;
  port: number;
}

/** One keepalived virtual_server: the VirtualIP's address and one Service port. */
export interface VirtualServer {
  /** "namespace/name" of the VirtualIP. */
  virtualIP: string;
  /** "namespace/name" of the Service. */
  service: string;
  /** Name of the Service port ("" when unnamed); only shown in a comment, sanitized. */
  portName: string;
  address: string;
  port: number;
  protocol: IpvsProtocol;
  scheduler: VirtualIP["spec"]["ipvs"]["scheduler"];
  method: VirtualIP["spec"]["ipvs"]["method"];
  /** Sorted by address, then port. */
  realServers: RealServer[];
}

/** Input of {@link planVirtualServers}. */
export interface VirtualServerInput {
  vip: VirtualIP;
  /** The address in effect (spec.address or the allocated one). */
  address: string;
  service: V1Service;
  /** EndpointSlices of the view (filtered here by namespace and service-name label). */
  endpointSlices: V1EndpointSlice[];
}

function isPort(n: unknown): n is number {
  return typeof n === "number" && Number.isInteger(n) && n >= 1 && n <= 65535;
}

function protocolOf(p: string | undefined): IpvsProtocol | undefined {
  const proto = p ?? "TCP";
  return proto === "TCP" || proto === "UDP" ? proto : undefined;
}

/** EndpointSlices of `service` that carry addresses of `family`. */
export function serviceEndpointSlices(service: V1Service, slices: V1EndpointSlice[], family: Family): V1EndpointSlice[] {
  const ns = service.metadata?.namespace || "default";
  const name = service.metadata?.name ?? "";
  return slices.filter(
    (s) => (s.metadata?.namespace || "default") === ns && s.metadata?.labels?.[LABEL_SERVICE_NAME] === name && s.addressType === `IPv${family}`,
  );
}

function realServersFor(slices: V1EndpointSlice[], port: { name: string; protocol: IpvsProtocol }, family: Family): RealServer[] {
  const seen = new Map<string, RealServer>();
  for (const slice of slices) {
    const sp = (slice.ports ?? []).find((p) => (p.name ?? "") === port.name && protocolOf(p.protocol) === port.protocol);
    if (!sp || !isPort(sp.port)) continue;
    for (const ep of slice.endpoints ?? []) {
      if (ep.conditions?.ready === false) continue;
      for (const raw of ep.addresses ?? []) {
        const parsed = parsedIP(String(raw).trim());
        const address = parsed.canonical;
        if (address === undefined || parsed.family !== family) continue;
        seen.set(`${address} ${sp.port}`, { address, port: sp.port });
      }
    }
  }
  return [...seen.values()].sort((a, b) => compareIP(a.address, b.address) || a.port - b.port);
}

/**
 * The virtual servers of one VirtualIP with forwarding ipvs: one per TCP/UDP
 * port of its Service that has at least one ready endpoint of the address
 * family (endpoints whose conditions.ready is unset count as ready, as the
 * EndpointSlice API says). The target port of each endpoint comes from its
 * EndpointSlice's port of the same name. Sorted by port, then protocol.
 */
export function planVirtualServers(input: VirtualServerInput): VirtualServer[] {
  const { vip, service } = input;
  const address = parsedIP(input.address).canonical;
  const family = address === undefined ? undefined : parsedIP(address).family;
  if (address === undefined || family === undefined) return [];
  const slices = serviceEndpointSlices(service, input.endpointSlices, family);
  const out = new Map<string, VirtualServer>();
  for (const sp of service.spec?.ports ?? []) {
    const protocol = protocolOf(sp.protocol);
    if (!protocol || !isPort(sp.port) || out.has(`${sp.port}/${protocol}`)) continue;
    const portName = sp.name ?? "";
    const realServers = realServersFor(slices, { name: portName, protocol }, family);
    if (realServers.length === 0) continue;
    out.set(`${sp.port}/${protocol}`, {
      virtualIP: objectKey(vip.metadata),
      service: objectKey(service.metadata),
      portName,
      address,
      port: sp.port,
      protocol,
      scheduler: vip.spec.ipvs.scheduler,
      method: vip.spec.ipvs.method,
      realServers,
    });
  }
  return [...out.values()].sort((a, b) => a.port - b.port || compareStrings(a.protocol, b.protocol));
}
