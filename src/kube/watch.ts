// The operator's watches: one ListWatch (src/kube/listwatch.ts) per watched
// collection, their health for /readyz, and the sync barrier. I/O.
import type { Clock } from "../shared/clock.js";
import type { k8s } from "./client.js";
import { ListWatch, rawKey, type RestartKind, type WatchEventType, type WatchHealth, type WatchLogger } from "./listwatch.js";
import { httpTransport, type ListWatchTransport, type RawObject } from "./transport.js";

export { rawKey, type RawObject, type RestartKind, type WatchEventType, type WatchLogger };

/** One watched resource. */
export interface WatchTarget {
  /** Our name for it (e.g. "VirtualIP"). */
  name: string;
  /** API group; "" for the core group. */
  group: string;
  version: string;
  plural: string;
  /** Watch one namespace only. */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
}

/** The path of a collection (selectors go in the query). */
export function collectionPath(t: WatchTarget): string {
  let path = t.group ? `/apis/${t.group}/${t.version}/` : `/api/${t.version}/`;
  if (t.namespace) path += `namespaces/${encodeURIComponent(t.namespace)}/`;
  return path + t.plural;
}

export interface StartWatchesOptions {
  kc: k8s.KubeConfig;
  targets: WatchTarget[];
  logger: WatchLogger;
  clock: Clock;
  /** Called for each change, in order per watch (relists included); must not throw. */
  onEvent: (target: WatchTarget, type: WatchEventType, object: RawObject) => void;
  /** Called before each (re)list of `target`. */
  onListStart?: (target: WatchTarget) => void;
  /** Called after each (re)list of `target`, its changes delivered, with the keys listed. */
  onListed?: (target: WatchTarget, keys: ReadonlySet<string>) => void;
  /** Called when a watch request of `target` ended (for the watch restarts metric). */
  onRestart?: (target: WatchTarget, how: RestartKind) => void;
  /** Called when the watch of `target` goes down, and when it is current again. */
  onHealthChange?: (target: WatchTarget, ok: boolean) => void;
  /** The HTTP side; default the kubeconfig's cluster. */
  transport?: ListWatchTransport;
}

/** The running watches of the operator. */
export interface WatchSet {
  /** Resolves once every collection was listed and its objects delivered. */
  synced: Promise<void>;
  /** Ready when every watch is listed and none is down; the message names the ones that are not. */
  health(): WatchHealth;
  /** Ends every backoff wait at once (the API server is known to answer again). */
  retryNow(): void;
  stop(): void;
}

/** Starts one list+watch per target; they retry by themselves and never end the process. */
export function startWatches(opts: StartWatchesOptions): WatchSet {
  const transport = opts.transport ?? httpTransport(opts.kc);
  let pending = opts.targets.length;
  let resolveSynced: () => void = () => undefined;
  const synced = new Promise<void>((resolve) => (resolveSynced = resolve));
  if (pending === 0) resolveSynced();
  const watches = opts.targets.map((t) => {
    let first = true;
    return new ListWatch({
      name: t.name,
      path: collectionPath(t),
      ...(t.labelSelector ? { labelSelector: t.labelSelector } : {}),
      ...(t.fieldSelector ? { fieldSelector: t.fieldSelector } : {}),
      transport,
      clock: opts.clock,
      logger: opts.logger,
      onRestart: (how) => opts.onRestart?.(t, how),
      onHealthChange: (ok) => opts.onHealthChange?.(t, ok),
      handler: {
        onEvent: (type, obj) => opts.onEvent(t, type, obj),
        onListStart: () => opts.onListStart?.(t),
        onSynced: (items) => {
          opts.onListed?.(t, new Set(items.map(rawKey)));
          if (!first) return;
          first = false;
          if (--pending === 0) resolveSynced();
        },
      },
    });
  });
  for (const w of watches) w.start();
  return {
    synced,
    health() {
      const bad = watches.map((w) => w.health()).filter((h) => !h.ok);
      return bad.length === 0 ? { ok: true } : { ok: false, message: bad.map((h) => h.message).join("; ") };
    },
    retryNow() {
      for (const w of watches) w.retryNow();
    },
    stop() {
      for (const w of watches) w.stop();
    },
  };
}
