// The node agent's Kubernetes I/O: watch of its one config Secret, heartbeat
// Lease, its status.nodes entry, Events on VirtualIPs. I/O.
import { randomBytes } from "node:crypto";
import { API_VERSION, KIND, agentFieldManager, type NodeStatus } from "../api/index.js";
import { applyObject, applyVirtualIPStatus, describeError, errorStatus, k8s, type KubeClients, type VirtualIPRef } from "./client.js";

/** A Secret's identity and data as the agent needs it. */
export interface ObservedSecret {
  resourceVersion: string;
  /** base64 values, as the API returns them. */
  data: Record<string, string>;
  annotations: Record<string, string>;
}

export interface SecretWatchOptions {
  namespace: string;
  name: string;
  /** Called with the Secret's current content, or undefined when it does not exist (or was deleted). */
  onChange(secret: ObservedSecret | undefined): void;
  /** Called when a list or watch failed; the watch retries by itself. */
  onError?(err: unknown, retryInMs: number): void;
  /** Called after every successful list (the view is in sync with the API server). */
  onSynced?(): void;
  /** Backoff between failed attempts: initial, doubled, capped. Default 200 ms .. 10 s. */
  retryInitialMs?: number;
  retryMaxMs?: number;
}

/** A running watch. */
export interface SecretWatch {
  stop(): void;
  /** Ends a backoff wait at once (e.g. the API server is known to be back). */
  retryNow(): void;
}

function observed(secret: k8s.V1Secret): ObservedSecret {
  return {
    resourceVersion: secret.metadata?.resourceVersion ?? "",
    data: secret.data ?? {},
    annotations: secret.metadata?.annotations ?? {},
  };
}

function delay(ms: number, signal: { stopped: boolean; wake?: () => void }): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.wake = () => {
      clearTimeout(t);
      resolve();
    };
  });
}

/**
 * Watches one Secret by name (list + watch with a metadata.name field selector,
 * so a Role restricted by resourceNames suffices). Resumes from the last
 * resourceVersion, relists after 410 Gone, reconnects with backoff.
 */
export function watchSecretByName(clients: KubeClients, opts: SecretWatchOptions): SecretWatch {
  const fieldSelector = `metadata.name=${opts.name}`;
  const state: { stopped: boolean; wake?: () => void; request?: { abort(): void } } = { stopped: false };
  const initial = opts.retryInitialMs ?? 200;
  const max = opts.retryMaxMs ?? 10_000;

  const list = async (): Promise<string> => {
    const res = await clients.core.listNamespacedSecret(opts.namespace, undefined, undefined, undefined, fieldSelector);
    const item = res.body.items.find((s) => s.metadata?.name === opts.name);
    if (!state.stopped) opts.onChange(item ? observed(item) : undefined);
    opts.onSynced?.();
    return res.body.metadata?.resourceVersion ?? "";
  };

  /** Watches from `rv` until the stream ends; resolves to the last resourceVersion seen, or undefined when a relist is needed. */
  const watchFrom = (rv: string): Promise<{ rv?: string; err?: unknown; events: number }> =>
    new Promise((resolve) => {
      let last: string | undefined = rv;
      let events = 0;
      const watch = new k8s.Watch(clients.kc);
      const query = { fieldSelector, resourceVersion: rv, allowWatchBookmarks: true, timeoutSeconds: 240 + Math.floor(Math.random() * 120) };
      const onEvent = (type: string, obj: k8s.V1Secret & { code?: number }): void => {
        events++;
        if (type === "ERROR") {
          last = obj.code === 410 ? undefined : last;
          state.request?.abort();
          return;
        }
        if (obj.metadata?.resourceVersion) last = obj.metadata.resourceVersion;
        if (type === "BOOKMARK" || state.stopped) return;
        opts.onChange(type === "DELETED" ? undefined : observed(obj));
      };
      watch
        .watch(`/api/v1/namespaces/${encodeURIComponent(opts.namespace)}/secrets`, query, onEvent, (err: unknown) => resolve({ rv: last, err, events }))
        .then((req: { abort(): void }) => {
          state.request = req;
          if (state.stopped) req.abort();
        })
        .catch((err: unknown) => resolve({ rv: last, err, events }));
    });

  /** One list-if-needed + watch round; resolves to the resourceVersion to resume from, or rejects. */
  const round = async (rv: string | undefined): Promise<string | undefined> => {
    const from = rv ?? (await list());
    const started = Date.now();
    const res = await watchFrom(from);
    if (res.err && errorStatus(res.err) === 410) return undefined;
    if (res.err && res.events === 0) throw res.err instanceof Error ? res.err : new Error(describeError(res.err));
    // A stream that closes at once without a word is a failing server, not a timeout.
    if (res.events === 0 && Date.now() - started < 1000) throw new Error("watch closed immediately");
    return res.rv;
  };

  const loop = async (): Promise<void> => {
    let rv: string | undefined;
    let failures = 0;
    while (!state.stopped) {
      try {
        rv = await round(rv);
        failures = 0;
      } catch (err) {
        if (state.stopped) break;
        failures++;
        const wait = Math.min(initial * 2 ** (failures - 1), max);
        opts.onError?.(err, wait);
        await delay(wait, state);
      }
    }
  };
  void loop();
  return {
    stop: () => {
      state.stopped = true;
      state.request?.abort();
      state.wake?.();
    },
    retryNow: () => state.wake?.(),
  };
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
