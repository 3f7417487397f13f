// The node agent's Kubernetes I/O: watches of its config Secrets (its own
// node Secret by name, the instance Secrets by label), heartbeat Lease, its
// status.nodes entry, Events on VirtualIPs. I/O.
import { randomBytes } from "node:crypto";
import { API_VERSION, KIND, agentFieldManager, type NodeStatus } from "../api/index.js";
import { realClock, type Clock } from "../shared/clock.js";
import { applyObject, applyVirtualIPStatus, errorStatus, type k8s, type KubeClients, type VirtualIPRef } from "./client.js";
import { DEFAULT_BACKOFF, ListWatch, type WatchHealth } from "./listwatch.js";
import { httpTransport, type RawObject } from "./transport.js";

/** A Secret's identity and data as the agent needs it. */
export interface ObservedSecret {
  name: string;
  resourceVersion: string;
  /** base64 values, as the API returns them. */
  data: Record<string, string>;
  annotations: Record<string, string>;
}

/** What a watch reports about one Secret. */
export type SecretEventType = "ADDED" | "MODIFIED" | "DELETED";

/** What every Secret watch takes besides what it watches. */
interface WatchBehaviour {
  namespace: string;
  /** Called when a list or watch failed; the watch retries by itself. */
  onError?(err: unknown, retryInMs: number): void;
  /** Called after every successful list (the view is in sync with the API server). */
  onSynced?(): void;
  /** Backoff between failed attempts: initial, doubled, capped, jittered. Default 200 ms .. 10 s. */
  retryInitialMs?: number;
  retryMaxMs?: number;
  /** Timers of the backoff. Default the real clock. */
  clock?: Clock;
}

/** A watch of the Secrets that match a field and/or label selector. */
export interface SecretsWatchOptions extends WatchBehaviour {
  /** e.g. "metadata.name=x". */
  fieldSelector?: string;
  /** e.g. "app.kubernetes.io/component=instance-config". */
  labelSelector?: string;
  /**
   * Called after every (re)list with every Secret that matches: the whole
   * view, so a Secret missing from it was deleted while nobody watched.
   */
  onList(secrets: ObservedSecret[]): void;
  /** Called for each change the watch reports, in order. */
  onEvent(type: SecretEventType, secret: ObservedSecret): void;
  /** Items per list page. Default 500. */
  pageSize?: number;
}

/** A watch of one Secret by name. */
export interface SecretWatchOptions extends WatchBehaviour {
  name: string;
  /** Called with the Secret's current content, or undefined when it does not exist (or was deleted). */
  onChange(secret: ObservedSecret | undefined): void;
}

/** A running watch. */
export interface SecretWatch {
  stop(): void;
  /** Ends a backoff wait at once (e.g. the API server is known to be back). */
  retryNow(): void;
  /** Ready when listed and not down (for the agent's readiness). */
  health(): WatchHealth;
}

function observed(secret: RawObject): ObservedSecret {
  return {
    name: secret.metadata?.name ?? "",
    resourceVersion: secret.metadata?.resourceVersion ?? "",
    data: (secret.data as Record<string, string> | undefined) ?? {},
    annotations: secret.metadata?.annotations ?? {},
  };
}

/**
 * Watches the Secrets of a namespace that match the selectors with the one
 * list+watch of src/kube/listwatch.ts: a paginated list, a watch resumed from
 * the last resourceVersion seen (bookmarks included), a relist after 410
 * Gone, reconnects with backoff and jitter. Each (re)list reports the whole
 * view (onList), each watch event one Secret (onEvent).
 */
export function watchSecrets(clients: KubeClients, opts: SecretsWatchOptions): SecretWatch {
  const watch = new ListWatch({
    name: opts.labelSelector ?? opts.fieldSelector ?? "secrets",
    path: `/api/v1/namespaces/${encodeURIComponent(opts.namespace)}/secrets`,
    ...(opts.labelSelector ? { labelSelector: opts.labelSelector } : {}),
    ...(opts.fieldSelector ? { fieldSelector: opts.fieldSelector } : {}),
    transport: httpTransport(clients.kc),
    clock: opts.clock ?? realClock,
    backoff: { initialMs: opts.retryInitialMs ?? DEFAULT_BACKOFF.initialMs, maxMs: opts.retryMaxMs ?? DEFAULT_BACKOFF.maxMs },
    ...(opts.pageSize ? { pageSize: opts.pageSize } : {}),
    onError: (err, retryInMs) => opts.onError?.(err, retryInMs),
    handler: {
      // A relist's changes reach the agent as the whole view (onList), the watch's one by one.
      onEvent: (type, obj, origin) => {
        if (origin === "watch") opts.onEvent(type, observed(obj));
      },
      onSynced: (items) => {
        opts.onList(items.map(observed));
        opts.onSynced?.();
      },
    },
  });
  watch.start();
  return { stop: () => watch.stop(), retryNow: () => watch.retryNow(), health: () => watch.health() };
}

/**
 * Watches one Secret by name (list + watch with a metadata.name field selector,
 * so a Role restricted by resourceNames suffices), with the behaviour of
 * {@link watchSecrets}.
 */
export function watchSecretByName(clients: KubeClients, opts: SecretWatchOptions): SecretWatch {
  const { name } = opts;
  return watchSecrets(clients, {
    namespace: opts.namespace,
    fieldSelector: `metadata.name=${name}`,
    onList: (secrets) => opts.onChange(secrets.find((s) => s.name === name)),
    onEvent: (type, secret) => {
      if (secret.name === name) opts.onChange(type === "DELETED" ? undefined : secret);
    },
    onError: (err, retryInMs) => opts.onError?.(err, retryInMs),
    onSynced: () => opts.onSynced?.(),
    retryInitialMs: opts.retryInitialMs,
    retryMaxMs: opts.retryMaxMs,
    ...(opts.clock ? { clock: opts.clock } : {}),
  });
}

/** Formats epoch milliseconds as a Kubernetes MicroTime (6 fractional digits). */
function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

export interface HeartbeatLease {
  namespace: string;
  name: string;
  node: string;
  leaseDurationSeconds: number;
  /** Annotations to publish (e.g. the default interface). */
  annotations: Record<string, string>;
  /** Epoch ms of this renewal. */
  now: number;
}

/** Creates or renews the agent's heartbeat Lease with server-side apply under the node's field manager. */
export async function applyHeartbeatLease(clients: KubeClients, lease: HeartbeatLease): Promise<void> {
  const obj = {
    apiVersion: "coordination.k8s.io/v1",
    kind: "Lease",
    metadata: { name: lease.name, namespace: lease.namespace, annotations: lease.annotations },
    spec: { holderIdentity: lease.node, leaseDurationSeconds: lease.leaseDurationSeconds, renewTime: microTime(lease.now) },
  };
  await applyObject(clients, obj, { fieldManager: agentFieldManager(lease.node) });
}

/**
 * Applies this node's complete status.nodes entry (or, with `entry` undefined,
 * an empty status so the entry goes). A VirtualIP that no longer exists is not
 * an error. Resolves to the object's uid when the API server returned one.
 */
export async function applyNodeStatusEntry(clients: KubeClients, ref: VirtualIPRef, node: string, entry: NodeStatus | undefined): Promise<string | undefined> {
  try {
    const status = entry ? { nodes: [entry] } : {};
    const body = await applyVirtualIPStatus(clients, ref, status, { fieldManager: agentFieldManager(node) });
    const uid = (body as { metadata?: { uid?: unknown } } | null)?.metadata?.uid;
    return typeof uid === "string" ? uid : undefined;
  } catch (err) {
    if (errorStatus(err) === 404) return undefined;
    throw err;
  }
}

export interface VirtualIPEvent {
  ref: VirtualIPRef;
  /** Known uid of the VirtualIP (kubectl describe matches Events by uid). */
  uid?: string;
  type: "Normal" | "Warning";
  reason: string;
  /** Never a secret. */
  message: string;
  /** Reporting component and node. */
  component: string;
  node: string;
  now: number;
}

/** Records a core/v1 Event on a VirtualIP. */
export async function createVirtualIPEvent(clients: KubeClients, ev: VirtualIPEvent): Promise<void> {
  clients.countWrite("create", "events");
  const at = new Date(ev.now);
  const body: k8s.CoreV1Event = {
    metadata: { name: `${ev.ref.name}.${randomBytes(8).toString("hex")}`, namespace: ev.ref.namespace },
    involvedObject: { apiVersion: API_VERSION, kind: KIND, name: ev.ref.name, namespace: ev.ref.namespace, ...(ev.uid ? { uid: ev.uid } : {}) },
    type: ev.type,
    reason: ev.reason,
    message: ev.message.slice(0, 1024),
    count: 1,
    firstTimestamp: at,
    lastTimestamp: at,
    source: { component: ev.component, host: ev.node },
    reportingComponent: `${ev.component}`,
    reportingInstance: ev.node,
  };
  await clients.core.createNamespacedEvent(ev.ref.namespace, body);
}
