// The HTTP side of list+watch: one paginated list request and one streaming
// watch request against the API server, over node:http(s) with the
// kubeconfig's credentials. I/O; the list+watch state machine sees only the
// ListWatchTransport port, so its tests fake this module.
import http from "node:http";
import https from "node:https";
import type { k8s } from "./client.js";

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

/** One page of a list. */
export interface ListPage {
  items: RawObject[];
  /** The list's resourceVersion: a watch from it misses nothing. */
  resourceVersion: string;
  /** Token of the next page; undefined on the last. */
  continue?: string;
}

/** One line of a watch stream: ADDED, MODIFIED, DELETED, BOOKMARK or ERROR (then `object` is a Status). */
export interface WatchLine {
  type: string;
  object: RawObject & { code?: number; message?: string; reason?: string };
}

/** Query parameters of a list or watch request. */
export type Query = Record<string, string>;

/** What a watch stream reports while it runs. */
export interface WatchStreamHandlers {
  /** The API server accepted the watch (HTTP 200). */
  onOpen(): void;
  /** One event line, in order. */
  onLine(line: WatchLine): void;
}

/** A running watch request. */
export interface WatchStream {
  /** Resolves when the stream ends normally (or was aborted); rejects with an {@link ApiError} when it fails. */
  done: Promise<void>;
  abort(): void;
}

/** The port through which list+watch talks to the API server. */
export interface ListWatchTransport {
  list(path: string, query: Query): Promise<ListPage>;
  watch(path: string, query: Query, handlers: WatchStreamHandlers): WatchStream;
}

/** A failed request, with the HTTP status when there was an answer. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly statusCode?: number,
    /** The server's Retry-After, in ms (sent with 429 while it starts or sheds load). */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** Retry-After in seconds as ms; undefined when absent or not a number of seconds. */
function retryAfterMs(res: http.IncomingMessage): number | undefined {
  const v = res.headers["retry-after"];
  const n = typeof v === "string" && /^\d+$/.test(v) ? Number(v) * 1000 : undefined;
  return n;
}

/** How long a list request may take. */
const LIST_TIMEOUT_MS = 60_000;
/**
 * How long a watch may stay silent before the connection is treated as dead.
 * The API server sends a bookmark about every minute to a watch that asked
 * for them; ending a healthy but quiet watch only costs a resume.
 */
const WATCH_IDLE_MS = 300_000;

function withQuery(path: string, query: Query): string {
  const q = new URLSearchParams(query).toString();
  return q ? `${path}?${q}` : path;
}

/** The message of a Status body, else the start of the text. */
function statusMessage(text: string): string {
  try {
    const parsed = JSON.parse(text) as { message?: unknown };
    if (typeof parsed.message === "string") return parsed.message;
  } catch {
    // not JSON: keep the text
  }
  return text.slice(0, 300);
}

async function requestOptions(
  kc: k8s.KubeConfig,
  path: string,
  query: Query,
): Promise<{ url: URL; opts: https.RequestOptions; mod: typeof https | typeof http }> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new ApiError("no current cluster in the kubeconfig");
  const url = new URL(cluster.server.replace(/\/+$/, "") + withQuery(path, query));
  const opts: https.RequestOptions = { method: "GET", headers: { Accept: "application/json" } };
  await kc.applyToHTTPSOptions(opts);
  return { url, opts, mod: url.protocol === "http:" ? http : https };
}

/** One GET of a list page; an HTTP error becomes an {@link ApiError} with the status and any Retry-After. */
async function listPage(kc: k8s.KubeConfig, path: string, query: Query): Promise<ListPage> {
  const { url, opts, mod } = await requestOptions(kc, path, query);
  const text = await new Promise<string>((resolve, reject) => {
    const req = mod.request(url, opts, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8");
        const status = res.statusCode ?? 0;
        if (status >= 300) reject(new ApiError(`list ${path}: HTTP ${status}: ${statusMessage(body)}`, status, retryAfterMs(res)));
        else resolve(body);
      });
      res.on("error", reject);
    });
    req.setTimeout(LIST_TIMEOUT_MS, () => req.destroy(new ApiError(`list ${path}: timed out`)));
    req.on("error", reject);
    req.end();
  });
  const page = JSON.parse(text) as { items?: RawObject[]; metadata?: { resourceVersion?: string; continue?: string } };
  return {
    items: page.items ?? [],
    resourceVersion: page.metadata?.resourceVersion ?? "",
    ...(page.metadata?.continue ? { continue: page.metadata.continue } : {}),
  };
}

/** Splits a chunked stream into lines: feed chunks, get back the complete lines (the rest waits for the next chunk). */
function lineSplitter(): (chunk: string) => string[] {
  let buffer = "";
  return (chunk) => {
    buffer += chunk;
    const lines = buffer.split("\n");
    buffer = lines.pop() ?? "";
    return lines.map((l) => l.trim()).filter((l) => l !== "");
  };
}

/** A watch stream's handling of one response: errors reject, lines go to the handlers, the end resolves. */
function onWatchResponse(path: string, res: http.IncomingMessage, handlers: WatchStreamHandlers, stream: ResponseSettler): void {
  const status = res.statusCode ?? 0;
  res.setEncoding("utf8");
  if (status !== 200) {
    let body = "";
    res.on("data", (c: string) => (body += c));
    res.on("end", () => stream.fail(new ApiError(`watch ${path}: HTTP ${status}: ${statusMessage(body)}`, status, retryAfterMs(res))));
    res.on("error", (err) => stream.fail(err));
    return;
  }
  handlers.onOpen();
  const split = lineSplitter();
  res.on("data", (chunk: string) => {
    for (const line of split(chunk)) {
      try {
        handlers.onLine(JSON.parse(line) as WatchLine);
      } catch (err) {
        stream.destroy(err instanceof Error ? err : new Error(String(err)));
        return;
      }
    }
  });
  res.on("end", () => stream.end());
  res.on("error", (err) => stream.fail(err));
  // After "end" this settles nothing; without it, the stream was cut.
  res.on("close", () => stream.fail(new ApiError(`watch ${path}: connection lost`)));
}

/** How a response settles its watch: fail (unless aborted, which ends it quietly), end, or destroy the request. */
interface ResponseSettler {
  fail(err: Error): void;
  end(): void;
  destroy(err: Error): void;
}

/** One long GET with `watch=1`: resolves when the server ends it (or it idles out, or is aborted), rejects when it fails. */
function watchRequest(kc: k8s.KubeConfig, path: string, query: Query, handlers: WatchStreamHandlers): WatchStream {
  let req: http.ClientRequest | undefined;
  let aborted = false;
  const done = (async (): Promise<void> => {
    const { url, opts, mod } = await requestOptions(kc, path, query);
    if (aborted) return;
    await new Promise<void>((resolve, reject) => {
      const stream: ResponseSettler = {
        fail: (err) => (aborted ? resolve() : reject(err)),
        end: resolve,
        destroy: (err) => req?.destroy(err),
      };
      req = mod.request(url, opts, (res) => onWatchResponse(path, res, handlers, stream));
      // A silent connection may be dead (no FIN from a vanished peer): end it as if the server had; the watch resumes.
      req.setTimeout(WATCH_IDLE_MS, () => {
        aborted = true;
        req?.destroy();
        resolve();
      });
      req.on("error", (err) => stream.fail(err));
      req.on("close", () => aborted && resolve());
      req.end();
    });
  })();
  return {
    done,
    abort: () => {
      aborted = true;
      req?.destroy();
    },
  };
}

/**
 * The real transport over the kubeconfig's cluster and credentials (read
 * again for every request, so a rotated ServiceAccount token is picked up).
 */
export function httpTransport(kc: k8s.KubeConfig): ListWatchTransport {
  return {
    list: (path, query) => listPage(kc, path, query),
    watch: (path, query, handlers) => watchRequest(kc, path, query, handlers),
  };
}
