// What the renderer reads from a Node: its InternalIP per address family and
// the interface a VirtualIP without spec.interface uses on it. Pure.
import type { V1Node } from "@kubernetes/client-node";
import { ANNOTATION_DEFAULT_INTERFACE, INTERFACE_NAME_PATTERN, canonicalIP, ipFamily } from "../api/index.js";
import type { Family } from "../api/index.js";

const INTERFACE_NAME = new RegExp(INTERFACE_NAME_PATTERN);

/** Whether `s` is a plain Linux interface name (the schema's pattern). */
export function isInterfaceName(s: string | undefined): s is string {
  return typeof s === "string" && INTERFACE_NAME.test(s);
}

/**
 * The node's first InternalIP of `family` in `status.addresses` order
 * (Kubernetes lists the primary first), canonical; undefined when it has none.
 */
export function nodeInternalIP(node: V1Node, family: Family): string | undefined {
  for (const a of node.status?.addresses ?? []) {
    if (a.type !== "InternalIP" || typeof a.address !== "string") continue;
    const ip = canonicalIP(a.address.trim());
    if (ip !== undefined && ipFamily(ip) === family) return ip;
  }
  return undefined;
}

/** Where a node's default interface may come from, most trusted first. */
export interface DefaultInterfaceSources {
  /** Node name -> interface published by the node's agent. */
  nodeInterfaces: Record<string, string>;
  /** Used when neither the agent nor the Node names one. */
  fallback: string;
}

/**
 * Interface a VirtualIP without spec.interface uses on `node`: the one its
 * agent published, else the Node's ANNOTATION_DEFAULT_INTERFACE annotation,
 * else the fallback. A published name that is not a plain interface name is
 * skipped, so it can never reach the config.
 */
export function nodeDefaultInterface(node: V1Node, sources: DefaultInterfaceSources): string {
  const name = node.metadata?.name ?? "";
  const published = Object.prototype.hasOwnProperty.call(sources.nodeInterfaces, name) ? sources.nodeInterfaces[name] : undefined;
  if (isInterfaceName(published)) return published;
  const annotated = node.metadata?.annotations?.[ANNOTATION_DEFAULT_INTERFACE];
  if (isInterfaceName(annotated)) return annotated;
  return sources.fallback;
}
