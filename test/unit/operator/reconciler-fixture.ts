// A reconciler on a fake clock, with a fake ClusterWriter that answers like an
// API server (stored objects with a new resourceVersion) and records every write. Pure.
import type { V1DaemonSet, V1Secret } from "@kubernetes/client-node";
import { ANNOTATION_RUNNING_ADDRESSES, API_VERSION, KIND, OPERATOR_FIELD_MANAGER, agentLeaseName, FINALIZER } from "../../../src/api/index.js";
import type { RawObject } from "../../../src/kube/watch.js";
import { ObjectCache, type Kind } from "../../../src/operator/cache.js";
import type { InvolvedObject } from "../../../src/operator/events.js";
import { createOperatorMetrics, type OperatorMetrics } from "../../../src/operator/metrics.js";
import { parseOperatorOptions, type OperatorConfig } from "../../../src/operator/options.js";
import { Reconciler } from "../../../src/operator/reconciler.js";
import type { PlannedEvent } from "../../../src/operator/status.js";
import type { ClusterWriter, ObjectName } from "../../../src/operator/writer.js";
import { FakeClock } from "../../../src/shared/clock.js";
import { createLogger } from "../../../src/shared/logger.js";
import { encodeRunningSet } from "../../../src/shared/running-set.js";
import { testPoolObject } from "../../support/pools.js";

export const NS = "keepalived-vip-system";

/** One resourceVersion sequence for every object, as etcd has. */
let rv = 1;
export const nextRv = (): string => String(++rv);

/** One write the reconciler made: verb and what ("secret/<name>", "virtualip-status/<ns>/<name>", ...). */
export interface Write {
  verb: "apply" | "delete" | "patch" | "event";
  what: string;
  body?: unknown;
}

/** An error as the client library throws it (the HTTP status in statusCode). */
export function apiError(code: number): Error {
  return Object.assign(new Error(`HTTP ${code}`), { statusCode: code });
}

/**
 * Answers writes from what the cache holds, as the API server would: the
 * object with the written part merged in and a new resourceVersion. Methods
 * named in `failures` throw the queued errors first.
 */
export class FakeWriter implements ClusterWriter {
  readonly writes: Write[] = [];
  readonly failures = new Map<string, Error[]>();
  /** While set, every write waits for it (a write in flight). */
  gate: Promise<void> | undefined;
  constructor(private readonly cache: ObjectCache) {}

  /** Writes whose `what` starts with `prefix`. */
  of(prefix: string): Write[] {
    return this.writes.filter((w) => w.what.startsWith(prefix));
  }

  private async record(method: string, write: Write): Promise<void> {
    await this.gate;
    const queued = this.failures.get(method);
    const err = queued?.shift();
    if (err) throw err;
    this.writes.push(write);
  }

  private stored(obj: RawObject): RawObject {
    return { ...obj, metadata: { ...obj.metadata, resourceVersion: nextRv(), uid: obj.metadata?.uid ?? `uid-${obj.metadata?.name}` } };
  }

  private vip(ref: ObjectName): RawObject {
    const live = this.cache.get("VirtualIP", `${ref.namespace}/${ref.name}`);
    if (!live) throw apiError(404);
    return live;
  }

  async applySecret(secret: V1Secret): Promise<RawObject> {
    await this.record("applySecret", { verb: "apply", what: `secret/${secret.metadata?.name}`, body: secret });
    return this.stored(secret as RawObject);
  }

  async deleteSecret(ref: ObjectName): Promise<void> {
    await this.record("deleteSecret", { verb: "delete", what: `secret/${ref.name}` });
  }

  async applyVirtualIPStatus(ref: ObjectName, status: Record<string, unknown>): Promise<RawObject> {
    const live = this.vip(ref);
    await this.record("applyVirtualIPStatus", { verb: "apply", what: `virtualip-status/${ref.namespace}/${ref.name}`, body: status });
    const prev = (live.status ?? {}) as Record<string, unknown>;
    return this.stored({ ...live, status: { ...prev, ...status, nodes: prev.nodes } });
  }

  async applyNodeEntry(ref: ObjectName & { resourceVersion: string }, node: string, status: Record<string, unknown>): Promise<RawObject> {
    const live = this.vip(ref);
    await this.record("applyNodeEntry", { verb: "apply", what: `node-entry/${ref.namespace}/${ref.name}/${node}`, body: status });
    const others = ((live.status as { nodes?: { name: string }[] } | undefined)?.nodes ?? []).filter((n) => n.name !== node);
    const mine = (status as { nodes?: { name: string }[] }).nodes ?? [];
    return this.stored({ ...live, status: { ...(live.status as Record<string, unknown> | undefined), nodes: [...others, ...mine] } });
  }

  async patchFinalizers(ref: ObjectName, finalizers: string[]): Promise<RawObject> {
    const live = this.vip(ref);
    await this.record("patchFinalizers", { verb: "patch", what: `finalizers/${ref.namespace}/${ref.name}`, body: finalizers });
    return this.stored({ ...live, metadata: { ...live.metadata, finalizers } });
  }

  async applyServiceStatus(ref: ObjectName, status: Record<string, unknown>): Promise<RawObject> {
    const live = this.cache.get("Service", `${ref.namespace}/${ref.name}`);
    if (!live) throw apiError(404);
    await this.record("applyServiceStatus", { verb: "apply", what: `service-status/${ref.namespace}/${ref.name}`, body: status });
    // The operator owns the ingress it wrote (managedFields), and gives it up with an empty list.
    const owns = ((status.loadBalancer as { ingress?: unknown[] } | undefined)?.ingress ?? []).length > 0;
    const managedFields = owns
      ? [{ manager: OPERATOR_FIELD_MANAGER, operation: "Apply", subresource: "status", fieldsV1: { "f:status": { "f:loadBalancer": { "f:ingress": {} } } } }]
      : [];
    return this.stored({ ...live, metadata: { ...live.metadata, managedFields }, status });
  }

  async applyVirtualIP(obj: RawObject): Promise<RawObject> {
    await this.record("applyVirtualIP", { verb: "apply", what: `virtualip/${obj.metadata?.namespace}/${obj.metadata?.name}` });
    return this.stored(obj);
  }

  async deleteVirtualIP(ref: ObjectName): Promise<void> {
    await this.record("deleteVirtualIP", { verb: "delete", what: `virtualip/${ref.namespace}/${ref.name}` });
  }

  async applyPoolStatus(name: string, status: Record<string, unknown>): Promise<RawObject> {
    const live = this.cache.get("VirtualIPPool", name);
    if (!live) throw apiError(404);
    await this.record("applyPoolStatus", { verb: "apply", what: `pool-status/${name}`, body: status });
    return this.stored({ ...live, status });
  }

  async applyDaemonSet(ds: V1DaemonSet): Promise<RawObject> {
    await this.record("applyDaemonSet", { verb: "apply", what: `daemonset/${ds.metadata?.name}` });
    return this.stored(ds as RawObject);
  }

  recordEvents(involved: InvolvedObject, events: readonly PlannedEvent[]): Promise<void> {
    for (const e of events) this.writes.push({ verb: "event", what: `event/${involved.namespace}/${involved.name}/${e.reason}`, body: e });
    return Promise.resolve();
  }
}

/** A reconciler wired to a fake writer and a fake clock, and the cache it reads. */
export interface Harness {
  reconciler: Reconciler;
  cache: ObjectCache;
  clock: FakeClock;
  writer: FakeWriter;
  config: OperatorConfig;
  metrics: OperatorMetrics;
  /** As a watch event would: stores the object and tells the reconciler. */
  put(kind: Kind, obj: RawObject): void;
  remove(kind: Kind, key: string): void;
  /** Lets debounced passes and the writes they queue run (fake time moves by `ms` in small steps). */
  settle(ms?: number): Promise<void>;
}

export function operatorConfig(flags: Record<string, string> = {}): OperatorConfig {
  const res = parseOperatorOptions({ flags: { "leader-elect": "false", ...flags }, env: {}, defaultIdentity: "test" });
  if (!res.ok) throw new Error(res.errors.join("; "));
  return res.config;
}

export function startReconciler(opts: { flags?: Record<string, string>; lead?: boolean } = {}): Harness {
  const cache = new ObjectCache();
  const clock = new FakeClock();
  const writer = new FakeWriter(cache);
  const config = operatorConfig(opts.flags);
  const metrics = createOperatorMetrics(false);
  const reconciler = new Reconciler({
    config,
    writer,
    readSecret: () => Promise.resolve(undefined),
    cache,
    clock,
    logger: createLogger("test", "error"),
    metrics,
  });
  const put = (kind: Kind, obj: RawObject): void => {
    const change = cache.put(kind, obj);
    if (change) reconciler.onChange(change);
  };
  const remove = (kind: Kind, key: string): void => {
    const change = cache.remove(kind, key);
    if (change) reconciler.onChange(change);
  };
  const settle = async (ms = 1000): Promise<void> => {
    for (let t = 0; t < ms; t += 25) {
      await clock.advance(25);
      await reconciler.queue.idle();
    }
  };
  put("VirtualIPPool", {
    ...testPoolObject(),
    metadata: { name: "test", uid: "pool-uid", resourceVersion: "1", generation: 1, creationTimestamp: "2020-01-01T00:00:00Z" },
  });
  reconciler.markSynced();
  if (opts.lead ?? true) reconciler.startLeading();
  return { reconciler, cache, clock, writer, config, metrics, put, remove, settle };
}

export function nodeObject(name: string, ip: string): RawObject {
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: { name, uid: `uid-${name}`, resourceVersion: nextRv(), labels: { "kubernetes.io/hostname": name } },
    status: { addresses: [{ type: "InternalIP", address: ip }] },
  };
}

export function serviceObject(name: string): RawObject {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace: "default", uid: `uid-svc-${name}`, resourceVersion: nextRv() },
    spec: { type: "LoadBalancer", ports: [{ name: "http", port: 80, protocol: "TCP" }], selector: { app: name } },
  };
}

export function vipObject(
  name: string,
  spec: { service: string; address: string; virtualRouterId: number },
  extra: { finalizers?: string[]; deletionTimestamp?: string; status?: Record<string, unknown> } = {},
): RawObject {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: {
      name,
      namespace: "default",
      uid: `uid-vip-${name}`,
      resourceVersion: nextRv(),
      generation: 1,
      creationTimestamp: "2024-01-01T00:00:00Z",
      ...(extra.finalizers ? { finalizers: extra.finalizers } : {}),
      ...(extra.deletionTimestamp ? { deletionTimestamp: extra.deletionTimestamp } : {}),
    },
    spec: { serviceRef: { name: spec.service }, address: spec.address, virtualRouterId: spec.virtualRouterId, forwarding: "kube-proxy" },
    ...(extra.status ? { status: extra.status } : {}),
  };
}

/** An agent heartbeat Lease (renewed: a new resourceVersion). */
export function agentLease(node: string, opts: { running?: readonly string[]; durationSeconds?: number } = {}): RawObject {
  return {
    apiVersion: "coordination.k8s.io/v1",
    kind: "Lease",
    metadata: {
      name: agentLeaseName(node),
      namespace: NS,
      resourceVersion: nextRv(),
      ...(opts.running !== undefined ? { annotations: { [ANNOTATION_RUNNING_ADDRESSES]: encodeRunningSet("0123456789abcdef", opts.running) } } : {}),
    },
    spec: { holderIdentity: node, leaseDurationSeconds: opts.durationSeconds ?? 10 },
  };
}

export { FINALIZER };
