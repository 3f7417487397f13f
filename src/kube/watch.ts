// Watches through @dot-i/k8s-operator (its Operator base class) and plain
// paginated lists for the initial sync and for resyncs. I/O.
//
// What dot-i does, read from its source (dist/operator.js, 1.3.9), and what we do about it:
// - every event of every watch goes through one sequential queue: our handler is synchronous and cheap;
// - a watch that ends normally is restarted after 200 ms WITHOUT a resourceVersion, so every object
//   comes again as ADDED and deletions during the gap are never seen: the caller relists (onRestart);
// - a watch that fails (HTTP error, 403, connection error) logs "watch on resource X failed" and calls
//   process.exit(1), which is what we want: the Deployment restarts the pod; a collection that is
//   not listable yet (a CRD `helm install` created a moment before answers 429) is waited for first;
// - stop() aborts the requests, which lands in that same error path (exit 1): never call it to shut
//   down, exit the process instead;
// - there is no label or field selector parameter: it is appended to the plural ("secrets?labelSelector=..."),
//   which dot-i puts in the URL as is.
import http from "node:http";
import https from "node:https";
import dotI from "@dot-i/k8s-operator";
import type { OperatorLogger, ResourceEvent } from "@dot-i/k8s-operator";
import type { k8s } from "./client.js";

const OperatorBase = dotI.default;

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

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED";

/** A raw object as the API server sends it (JSON: timestamps are strings). */
export interface RawObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    creationTimestamp?: string;
    deletionTimestamp?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    finalizers?: string[];
    ownerReferences?: unknown[];
    managedFields?: unknown[];
    [k: string]: unknown;
  };
  [k: string]: unknown;
}

/** Log lines of the watch layer (dot-i's messages are passed on as they are). */
export interface WatchLogger {
  debug(message: string, meta?: Record<string, unknown>): void;
  info(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
  error(message: string, meta?: Record<string, unknown>): void;
}

export interface StartWatchesOptions {
  kc: k8s.KubeConfig;
  targets: WatchTarget[];
  logger: WatchLogger;
  /** Called for each event, in order per watch; must not throw. */
  onEvent: (target: WatchTarget, type: WatchEventType, object: RawObject) => void;
  /** Called when dot-i restarted a watch (the objects are replayed as ADDED; deletions in the gap are lost). */
  onRestart?: (target: WatchTarget) => void;
}

/** The path of a collection, with the selectors as query parameters. */
export function collectionPath(t: WatchTarget): string {
  let path = t.group ? `/apis/${t.group}/${t.version}/` : `/api/${t.version}/`;
  if (t.namespace) path += `namespaces/${encodeURIComponent(t.namespace)}/`;
  path += t.plural;
  return path + selectorQuery(t);
}

function selectorQuery(t: WatchTarget): string {
  const q = new URLSearchParams();
  if (t.labelSelector) q.set("labelSelector", t.labelSelector);
  if (t.fieldSelector) q.set("fieldSelector", t.fieldSelector);
  const s = q.toString();
  return s ? `?${s}` : "";
}

/** dot-i's id of a watch: `${plural}.${apiVersion}` with our query appended to the plural. */
function dotIId(t: WatchTarget): string {
  const apiVersion = t.group ? `${t.group}/${t.version}` : t.version;
  return `${t.plural}${selectorQuery(t)}.${apiVersion}`;
}

const RESTART_PREFIX = "restarting watch on resource ";

/** dot-i's logger interface on top of ours; spots watch restarts in its debug lines. */
function dotILogger(opts: StartWatchesOptions, byId: Map<string, WatchTarget>): OperatorLogger {
  return {
    debug: (m) => {
      if (m.startsWith(RESTART_PREFIX)) {
        const target = byId.get(m.slice(RESTART_PREFIX.length));
        opts.logger.info("Restarted a watch", { resource: target?.name ?? m.slice(RESTART_PREFIX.length) });
        if (target) opts.onRestart?.(target);
        return;
      }
      opts.logger.debug(m);
    },
    info: (m) => opts.logger.debug(m),
    warn: (m) => opts.logger.warn(m),
    // The line before dot-i's process.exit(1).
    error: (m) => opts.logger.error("Watch failed, exiting so that the pod restarts", watchFailure(m, byId)),
  };
}

/** The resource and error message of dot-i's "watch on resource X failed: {json}" line (no stack). */
function watchFailure(line: string, byId: Map<string, WatchTarget>): Record<string, unknown> {
  const m = /^watch on resource (\S+) failed: (.*)$/s.exec(line);
  if (!m) return { detail: line };
  let error = m[2] ?? "";
  try {
    const parsed = JSON.parse(error) as { message?: unknown };
    if (typeof parsed.message === "string") error = parsed.message;
  } catch {
    // not JSON: keep the text
  }
  return { resource: byId.get(m[1] ?? "")?.name ?? m[1], error };
}

class Watcher extends OperatorBase {
  constructor(private readonly opts: StartWatchesOptions) {
    const byId = new Map(opts.targets.map((t) => [dotIId(t), t]));
    super(dotILogger(opts, byId));
    // dot-i loads the default kubeconfig in its constructor; use ours (the same file, flags and token).
    this.kubeConfig = opts.kc;
    this.k8sApi = opts.kc.makeApiClient(this.k8sApi.constructor as typeof k8s.CoreV1Api);
  }

  protected async init(): Promise<void> {
    for (const t of this.opts.targets) {
      await waitUntilListable(this.opts.kc, t, this.opts.logger);
      const plural = t.plural + selectorQuery(t);
      await this.watchResource(t.group, t.version, plural, (e: ResourceEvent) => this.handle(t, e), t.namespace);
    }
  }

  private handle(t: WatchTarget, e: ResourceEvent): Promise<void> {
    const type = e.type as string;
    if (type === "ADDED" || type === "MODIFIED" || type === "DELETED") this.opts.onEvent(t, type, e.object as RawObject);
    return Promise.resolve();
  }
}

/** How long a watch waits for its collection to answer before it starts anyway. */
const LISTABLE_TIMEOUT_MS = 60_000;

/**
 * Waits until the collection answers a list, retrying 429 and 5xx answers and
 * connection errors (up to a minute). A CRD installed a moment before, as by
 * `helm install`, answers 429 until the API server's watch cache for it is
 * ready; a watch started then fails, and dot-i exits the process.
 */
async function waitUntilListable(kc: k8s.KubeConfig, t: WatchTarget, logger: WatchLogger): Promise<void> {
  const deadline = Date.now() + LISTABLE_TIMEOUT_MS;
  const base = collectionPath(t);
  for (let delayMs = 200; ; delayMs = Math.min(delayMs * 2, 2_000)) {
    try {
      await getJSON(kc, `${base}${base.includes("?") ? "&" : "?"}limit=1`);
      return;
    } catch (err) {
      const status = (err as { statusCode?: number }).statusCode;
      const retriable = status === undefined || status === 429 || status >= 500;
      if (!retriable || Date.now() + delayMs > deadline) return;
      logger.debug("Collection not listable yet; retrying before the watch starts", { resource: t.name, error: (err as Error).message });
      await new Promise((r) => setTimeout(r, delayMs));
    }
  }
}

/**
 * Starts one watch per target. Resolves once every watch request is sent (not
 * once the current objects arrived: see {@link listKeys} for the sync barrier).
 */
export async function startWatches(opts: StartWatchesOptions): Promise<void> {
  const w = new Watcher(opts);
  await w.start();
}

/** Key of an object: "namespace/name", or "name" for cluster-scoped objects. */
export function rawKey(obj: RawObject): string {
  const ns = obj.metadata?.namespace;
  const name = obj.metadata?.name ?? "";
  return ns ? `${ns}/${name}` : name;
}

interface ListPage {
  items?: RawObject[];
  metadata?: { continue?: string };
}

async function getJSON(kc: k8s.KubeConfig, path: string): Promise<unknown> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error("no current cluster in the kubeconfig");
  const url = new URL(cluster.server.replace(/\/+$/, "") + path);
  const opts: https.RequestOptions = { method: "GET", headers: { Accept: "application/json" } };
  await kc.applyToHTTPSOptions(opts);
  const mod = url.protocol === "http:" ? http : https;
  return new Promise((resolve, reject) => {
    const req = mod.request(url, opts, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        if ((res.statusCode ?? 0) >= 300) {
          const err = new Error(`GET ${url.pathname}: HTTP ${res.statusCode}: ${text.slice(0, 300)}`) as Error & { statusCode?: number };
          err.statusCode = res.statusCode;
          reject(err);
          return;
        }
        try {
          resolve(JSON.parse(text));
        } catch (e) {
          reject(e instanceof Error ? e : new Error(String(e)));
        }
      });
      res.on("error", reject);
    });
    req.setTimeout(60_000, () => req.destroy(new Error(`GET ${url.pathname}: timed out`)));
    req.on("error", reject);
    req.end();
  });
}

/** Lists a watched collection (500 per page) and returns key -> resourceVersion of every object. */
export async function listKeys(kc: k8s.KubeConfig, target: WatchTarget): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let cont: string | undefined;
  do {
    const base = collectionPath(target);
    const sep = base.includes("?") ? "&" : "?";
    const page = (await getJSON(kc, `${base}${sep}limit=500${cont ? `&continue=${encodeURIComponent(cont)}` : ""}`)) as ListPage;
    for (const item of page.items ?? []) {
      // List items carry no namespace for cluster-scoped kinds and always a name.
      out.set(rawKey(item), item.metadata?.resourceVersion ?? "");
    }
    cont = page.metadata?.continue || undefined;
  } while (cont);
  return out;
}
