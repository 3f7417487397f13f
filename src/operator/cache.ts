// The operator's in-memory view of the cluster, fed by watch events and by
// the responses of its own writes. Pure (no I/O); a sequence number orders updates.
import { sha256Hex } from "../shared/hash.js";
import type { RawObject } from "../kube/watch.js";
import { rawKey } from "../kube/watch.js";

/** The kinds the operator keeps. */
export type Kind = "VirtualIP" | "VirtualIPPool" | "Namespace" | "ServiceCIDR" | "Service" | "EndpointSlice" | "Node" | "Lease" | "Secret" | "DaemonSet";

/** How many recent deletions the cache remembers. */
const MAX_TOMBSTONES = 10_000;

/** Kinds whose managedFields the operator reads (Service: who owns status.loadBalancer.ingress). */
const KEEP_MANAGED_FIELDS = new Set<Kind>(["Service"]);

interface Entry {
  obj: RawObject;
  /** Sequence number of the last update of this entry. */
  seq: number;
}

/** What an update did. */
export interface CacheChange {
  kind: Kind;
  key: string;
  previous?: RawObject;
  /** undefined when the object was deleted. */
  current?: RawObject;
}

/** resourceVersion as a number when it is one (etcd revisions are), for ordering updates. */
function rvNumber(obj: RawObject | undefined): number | undefined {
  const rv = obj?.metadata?.resourceVersion;
  if (rv === undefined || !/^\d+$/.test(rv)) return undefined;
  return Number(rv);
}

/** Prefix of a Secret data value the cache replaced by its digest. */
export const DIGEST_PREFIX = "sha256:";

/** A Secret data value as the cache keeps it: the sha256 of the base64 text, never the value. */
export function digestValue(base64: string): string {
  return DIGEST_PREFIX + sha256Hex(base64);
}

function strip(kind: Kind, obj: RawObject): RawObject {
  let out = obj;
  if (!KEEP_MANAGED_FIELDS.has(kind) && out.metadata?.managedFields) {
    const { managedFields: _drop, ...metadata } = out.metadata;
    out = { ...out, metadata };
  }
  // Node configs are large and may carry passwords: the cache keeps digests only.
  if (kind === "Secret" && out.data && typeof out.data === "object") {
    const data: Record<string, string> = {};
    for (const [k, v] of Object.entries(out.data as Record<string, string>)) data[k] = v.startsWith(DIGEST_PREFIX) ? v : digestValue(v);
    out = { ...out, data };
  }
  return out;
}

/**
 * Objects by kind and "namespace/name". An update with the same or an older
 * resourceVersion than the cached one is ignored (a replayed ADDED, or a
 * watch event that arrives after the response of our own write), so it
 * reports no change.
 */
export class ObjectCache {
  private readonly stores = new Map<Kind, Map<string, Entry>>();
  /**
   * The last deletions (uid and resourceVersion, by kind and key): the
   * response of our own write can arrive after the watch's DELETED of the
   * same object (removing the last finalizer deletes it) and must not bring
   * it back.
   */
  private readonly tombstones = new Map<string, { uid?: string; rv?: number }>();
  private seq = 0;
  /** Per kind, the objects by key as entries() last returned them; dropped on any change of that kind (never mutated once returned). */
  private readonly snapshots = new Map<Kind, ReadonlyMap<string, RawObject>>();
  /** Per kind whose changes are logged (trackChanges), the keys changed since the last drainChanges. */
  private readonly logs = new Map<Kind, Set<string>>();

  /** Per kind and label, the keys of the objects that carry the label (indexLabel). */
  private readonly labelled = new Map<Kind, Map<string, Set<string>>>();

  /** Keeps from now on the keys of the objects of `kind` that carry `label` (any value), for withLabel. */
  indexLabel(kind: Kind, label: string): void {
    const byLabel = this.labelled.get(kind) ?? new Map<string, Set<string>>();
    this.labelled.set(kind, byLabel);
    if (byLabel.has(label)) return;
    byLabel.set(label, new Set());
    for (const [key, e] of this.stores.get(kind) ?? []) this.noteLabels(kind, key, e.obj);
  }

  /** The objects of `kind` that carry `label` (indexLabel first), by key. */
  *withLabel(kind: Kind, label: string): IterableIterator<[string, RawObject]> {
    for (const key of this.labelled.get(kind)?.get(label) ?? []) {
      const obj = this.get(kind, key);
      if (obj) yield [key, obj];
    }
  }

  private noteLabels(kind: Kind, key: string, obj: RawObject | undefined): void {
    for (const [label, keys] of this.labelled.get(kind) ?? []) {
      if (obj?.metadata?.labels?.[label] !== undefined) keys.add(key);
      else keys.delete(key);
    }
  }

  /** Logs from now on the keys of `kind` that change, for drainChanges. */
  trackChanges(kind: Kind): void {
    if (!this.logs.has(kind)) this.logs.set(kind, new Set());
  }

  /** The keys of `kind` added, changed or removed since the last call (trackChanges first). */
  drainChanges(kind: Kind): Set<string> {
    const keys = this.logs.get(kind) ?? new Set<string>();
    if (this.logs.has(kind)) this.logs.set(kind, new Set());
    return keys;
  }

  private store(kind: Kind): Map<string, Entry> {
    this.snapshots.delete(kind);
    let s = this.stores.get(kind);
    if (!s) {
      s = new Map();
      this.stores.set(kind, s);
    }
    return s;
  }

  /** The sequence number of the latest update. */
  get currentSeq(): number {
    return this.seq;
  }

  /** Stores an added or modified object; undefined when nothing changed. */
  put(kind: Kind, obj: RawObject): CacheChange | undefined {
    const key = rawKey(obj);
    const s = this.store(kind);
    const prev = s.get(key);
    const tomb = this.tombstones.get(`${kind}\u0000${key}`);
    if (tomb && !prev) {
      const rv = rvNumber(obj);
      if (tomb.uid === obj.metadata?.uid && (tomb.rv === undefined || rv === undefined || rv <= tomb.rv)) return undefined;
      this.tombstones.delete(`${kind}\u0000${key}`);
    }
    if (prev) {
      const a = rvNumber(prev.obj);
      const b = rvNumber(obj);
      if (prev.obj.metadata?.resourceVersion === obj.metadata?.resourceVersion) return undefined;
      if (a !== undefined && b !== undefined && b < a && prev.obj.metadata?.uid === obj.metadata?.uid) return undefined;
    }
    const current = strip(kind, obj);
    s.set(key, { obj: current, seq: ++this.seq });
    this.logs.get(kind)?.add(key);
    this.noteLabels(kind, key, current);
    return prev ? { kind, key, previous: prev.obj, current } : { kind, key, current };
  }

  /** Removes an object (`deleted`: as the DELETED event carried it); undefined when it was not there. */
  remove(kind: Kind, key: string, deleted?: RawObject): CacheChange | undefined {
    const s = this.store(kind);
    const prev = s.get(key);
    const gone = deleted ?? prev?.obj;
    if (gone) this.remember(`${kind}\u0000${key}`, { uid: gone.metadata?.uid, rv: rvNumber(gone) });
    if (!prev) return undefined;
    s.delete(key);
    this.logs.get(kind)?.add(key);
    this.noteLabels(kind, key, undefined);
    return { kind, key, previous: prev.obj };
  }

  private remember(id: string, tomb: { uid?: string; rv?: number }): void {
    this.tombstones.delete(id);
    this.tombstones.set(id, tomb);
    // Only the latest deletions matter (a write response is late by a round trip, not by thousands of deletions).
    if (this.tombstones.size > MAX_TOMBSTONES) this.tombstones.delete(this.tombstones.keys().next().value as string);
  }

  get(kind: Kind, key: string): RawObject | undefined {
    return this.stores.get(kind)?.get(key)?.obj;
  }

  has(kind: Kind, key: string): boolean {
    return this.stores.get(kind)?.has(key) ?? false;
  }

  /** All objects of a kind (insertion order). */
  values(kind: Kind): RawObject[] {
    return [...(this.stores.get(kind)?.values() ?? [])].map((e) => e.obj);
  }

  /** Objects of a kind by key: a snapshot, the same one until an object of that kind changes. */
  entries(kind: Kind): ReadonlyMap<string, RawObject> {
    const hit = this.snapshots.get(kind);
    if (hit) return hit;
    const out = new Map<string, RawObject>();
    for (const [k, e] of this.stores.get(kind) ?? []) out.set(k, e.obj);
    this.snapshots.set(kind, out);
    return out;
  }

  size(kind: Kind): number {
    return this.stores.get(kind)?.size ?? 0;
  }

  /**
   * Removes objects a fresh list no longer shows and that were not updated
   * since the list started (`since`): an object our own write put here whose
   * deletion fell into a watch's gap (the list+watch only diffs what it saw).
   */
  sweep(kind: Kind, listed: ReadonlySet<string>, since: number): CacheChange[] {
    const out: CacheChange[] = [];
    const s = this.store(kind);
    for (const [key, e] of [...s]) {
      if (listed.has(key) || e.seq > since) continue;
      s.delete(key);
      this.logs.get(kind)?.add(key);
      this.noteLabels(kind, key, undefined);
      out.push({ kind, key, previous: e.obj });
    }
    return out;
  }
}
