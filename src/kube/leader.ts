// coordination.k8s.io Lease reads and optimistic-concurrency writes for
// leader election, as plain records. I/O.
import { errorStatus, type KubeClients, type k8s } from "./client.js";

/** The parts of a Lease that leader election reads and writes. */
export interface LeaseRecord {
  /** Empty when nobody holds the Lease (released). */
  holderIdentity: string;
  leaseDurationSeconds: number;
  /** RFC 3339 with microseconds. */
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions: number;
}

/** A Lease as read: its record plus the resourceVersion to update against. */
export interface ObservedLease {
  resourceVersion: string;
  record: LeaseRecord;
}

/** Formats epoch milliseconds as a Kubernetes MicroTime (RFC 3339 with 6 fractional digits). */
export function formatMicroTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

function timeText(v: unknown): string | undefined {
  if (v instanceof Date) return formatMicroTime(v.getTime());
  return typeof v === "string" && v !== "" ? v : undefined;
}

/** Reads a Lease's spec fields from a raw or typed Lease object. */
export function leaseRecordOf(lease: { spec?: unknown }): LeaseRecord {
  const spec = (lease.spec ?? {}) as Record<string, unknown>;
  const record: LeaseRecord = {
    holderIdentity: typeof spec.holderIdentity === "string" ? spec.holderIdentity : "",
    leaseDurationSeconds: typeof spec.leaseDurationSeconds === "number" ? spec.leaseDurationSeconds : 0,
    leaseTransitions: typeof spec.leaseTransitions === "number" ? spec.leaseTransitions : 0,
  };
  const acquireTime = timeText(spec.acquireTime);
  const renewTime = timeText(spec.renewTime);
  if (acquireTime) record.acquireTime = acquireTime;
  if (renewTime) record.renewTime = renewTime;
  return record;
}

/** Identifies a Lease. */
export interface LeaseRef {
  namespace: string;
  name: string;
}

/** Reads a Lease; undefined when it does not exist. */
export async function readLease(clients: KubeClients, ref: LeaseRef): Promise<ObservedLease | undefined> {
  try {
    const res = await clients.coordination.readNamespacedLease(ref.name, ref.namespace);
    return { resourceVersion: res.body.metadata?.resourceVersion ?? "", record: leaseRecordOf(res.body) };
  } catch (err) {
    if (errorStatus(err) === 404) return undefined;
    throw err;
  }
}

function leaseBody(ref: LeaseRef, record: LeaseRecord, resourceVersion?: string): k8s.V1Lease {
  // MicroTime fields go out as strings: client-node would print a Date with 3 digits, which the API server rejects.
  return {
    apiVersion: "coordination.k8s.io/v1",
    kind: "Lease",
    metadata: resourceVersion ? { name: ref.name, namespace: ref.namespace, resourceVersion } : { name: ref.name, namespace: ref.namespace },
    spec: record as unknown as k8s.V1LeaseSpec,
  };
}

/** Creates a Lease; fails with HTTP 409 when it already exists. */
export async function createLease(clients: KubeClients, ref: LeaseRef, record: LeaseRecord): Promise<ObservedLease> {
  clients.countWrite("create", "leases");
  const res = await clients.coordination.createNamespacedLease(ref.namespace, leaseBody(ref, record));
  return { resourceVersion: res.body.metadata?.resourceVersion ?? "", record: leaseRecordOf(res.body) };
}

/** Replaces a Lease if it still has `resourceVersion`; fails with HTTP 409 when someone else wrote it first. */
export async function updateLease(clients: KubeClients, ref: LeaseRef, update: { resourceVersion: string; record: LeaseRecord }): Promise<ObservedLease> {
  clients.countWrite("update", "leases");
  const res = await clients.coordination.replaceNamespacedLease(ref.name, ref.namespace, leaseBody(ref, update.record, update.resourceVersion));
  return { resourceVersion: res.body.metadata?.resourceVersion ?? "", record: leaseRecordOf(res.body) };
}
