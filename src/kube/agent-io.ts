// The node agent's Kubernetes I/O: watches of its config Secrets (its own
// node Secret by name, the instance Secrets by label), heartbeat Lease, its
// status.nodes entry, Events on VirtualIPs. I/O.
import { randomBytes } from "node:crypto";
import { API_VERSION, KIND, agentFieldManager, type NodeStatus } from "../api/index.js";
import { applyObject, applyVirtualIPStatus, describeError, errorStatus, k8s, type KubeClients, type VirtualIPRef } from "./client.js";

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
  /** Backoff between failed attempts: initial, doubled, capped. Default 200 ms .. 10 s. */
  retryInitialMs?: number;
  retryMaxMs?: number;
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
}

function observed(secret: k8s.V1Secret): ObservedSecret {
  return {
    name: secret.metadata?.name ?? "",
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
 * Watches the Secrets of a namespace that match the selectors: a paginated
 * list, then a watch resumed from the last resourceVersion seen (bookmarks
 * included), a relist after 410 Gone, reconnects with backoff. Each (re)list
 * reports the whole view (onList), each watch event one Secret (onEvent).
 */
export function watchSecrets(clients: KubeClients, opts: SecretsWatchOptions): SecretWatch {
  const { fieldSelector, labelSelector } = opts;
  const state: { stopped: boolean; wake?: () => void; request?: { abort(): void } } = { stopped: false };
  const initial = opts.retryInitialMs ?? 200;
  const max = opts.retryMaxMs ?? 10_000;
  const limit = opts.pageSize ?? 500;

  /** Lists every page; resolves to the list's resourceVersion. */
  const list = async (): Promise<string> => {
    const items: ObservedSecret[] = [];
    let rv = "";
    let next: string | undefined;
    do {
      const res = await clients.core.listNamespacedSecret(opts.namespace, undefined, undefined, next, fieldSelector, labelSelector, limit);
      items.push(...res.body.items.map(observed));
      rv = res.body.metadata?.resourceVersion ?? rv;
      next = res.body.metadata?._continue || undefined;
    } while (next && !state.stopped);
    if (!state.stopped) opts.onList(items);
    opts.onSynced?.();
    return rv;
  };

  /** Watches from `rv` until the stream ends; resolves to the last resourceVersion seen, or undefined when a relist is needed. */
  const watchFrom = (rv: string): Promise<{ rv?: string; err?: unknown; events: number }> =>
    new Promise((resolve) => {
      let last: string | undefined = rv;
      let events = 0;
      const watch = new k8s.Watch(clients.kc);
      const query = {
        ...(fieldSelector ? { fieldSelector } : {}),
        ...(labelSelector ? { labelSelector } : {}),
        resourceVersion: rv,
        allowWatchBookmarks: true,
        timeoutSeconds: 240 + Math.floor(Math.random() * 120),
      };
      const onEvent = (type: string, obj: k8s.V1Secret & { code?: number }): void => {
        events++;
        if (type === "ERROR") {
          last = obj.code === 410 ? undefined : last;
          state.request?.abort();
          return;
        }
        if (obj.metadata?.resourceVersion) last = obj.metadata.resourceVersion;
        if (state.stopped || (type !== "ADDED" && type !== "MODIFIED" && type !== "DELETED")) return;
        opts.onEvent(type, observed(obj));
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
