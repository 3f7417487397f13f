// The reconciler's only doors to the API server: the writes of the apply step
// (ClusterWriter) and the read of VRRP auth Secrets. Types only; src/kube implements them.
import type { V1DaemonSet, V1Secret } from "@kubernetes/client-node";
import type { RawObject } from "../kube/watch.js";
import type { InvolvedObject } from "./events.js";
import type { PlannedEvent } from "./status.js";

/** A namespaced object's name. */
export interface ObjectName {
  namespace: string;
  name: string;
}

/**
 * Every write the operator's apply step makes, each returning the object as
 * stored (JSON form) so the cache sees it before the watch does. Errors carry
 * the HTTP status (`errorStatus` in src/kube/client.ts): 404 and 409 mean
 * something to the caller.
 */
export interface ClusterWriter {
  /** Server-side applies a node or instance config Secret. */
  applySecret(secret: V1Secret): Promise<RawObject>;
  /** Deletes a config Secret (only while it still has `uid`, when given); a missing one is no error. */
  deleteSecret(ref: ObjectName, uid: string | undefined): Promise<void>;
  /** Server-side applies the operator's part of a VirtualIP's status (the summary). */
  applyVirtualIPStatus(ref: ObjectName, status: Record<string, unknown>): Promise<RawObject>;
  /**
   * Writes a node's entry of a VirtualIP's status on the node's behalf (its
   * field manager), only while the object still has `resourceVersion` (409 otherwise).
   * `status: {}` removes the entry.
   */
  applyNodeEntry(ref: ObjectName & { resourceVersion: string }, node: string, status: Record<string, unknown>): Promise<RawObject>;
  /** Sets a VirtualIP's finalizers, only while it still has `resourceVersion`. */
  patchFinalizers(ref: ObjectName, finalizers: string[], resourceVersion: string | undefined): Promise<RawObject>;
  /** Server-side applies a Service's status (load-balancer ingress). */
  applyServiceStatus(ref: ObjectName, status: Record<string, unknown>): Promise<RawObject>;
  /** Server-side applies a whole VirtualIP (the one of a LoadBalancer Service). */
  applyVirtualIP(obj: RawObject): Promise<RawObject>;
  /** Deletes a VirtualIP, only while it still has `uid`; a missing one is no error. */
  deleteVirtualIP(ref: ObjectName, uid: string): Promise<void>;
  /** Server-side applies a VirtualIPPool's status. */
  applyPoolStatus(name: string, status: Record<string, unknown>): Promise<RawObject>;
  /** Server-side applies the agent DaemonSet. */
  applyDaemonSet(ds: V1DaemonSet): Promise<RawObject>;
  /** Records Events on an object (best effort: never throws). */
  recordEvents(involved: InvolvedObject, events: readonly PlannedEvent[]): Promise<void>;
}

/** Reads a Secret by name (JSON form); undefined when it does not exist. Never log what it returns. */
export type SecretReader = (ref: ObjectName) => Promise<V1Secret | undefined>;
