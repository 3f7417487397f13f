// One list+watch of a Kubernetes collection, used by the operator and the
// agent alike (ADR 0019): a paginated list, then a watch from the list's
// resourceVersion with bookmarks; a watch that ends is resumed from the last
// resourceVersion seen; 410 Gone relists and diffs the list against what was
// seen, so a deletion in the gap is delivered; errors back off with jitter;
// health turns bad while the watch is down and good again by itself. It never
// ends the process. I/O only through the ListWatchTransport port.
import type { ResourceEventType } from "@dot-i/k8s-operator";
import { backoffDelay, type Backoff } from "../shared/backoff.js";
import type { Clock, Timer } from "../shared/clock.js";
import { ApiError, type ListWatchTransport, type Query, type RawObject, type WatchLine, type WatchStream } from "./transport.js";

/** The changes a handler receives: @dot-i/k8s-operator's event vocabulary (ADDED, MODIFIED, DELETED). */
export type WatchEventType = `${ResourceEventType}`;

/** Where a change was seen: on the watch stream, or by diffing a (re)list against what was seen before. */
export type ChangeOrigin = "watch" | "list";

/** What a list+watch delivers; handlers must not throw (a throw is logged and dropped). */
export interface ListWatchHandler {
  /** A change, in order. After a relist, objects that were not listed again come as DELETED (with their last known identity). */
  onEvent(type: WatchEventType, object: RawObject, origin: ChangeOrigin): void;
  /** A (re)list is about to send its first request. */
  onListStart?(): void;
  /** A (re)list completed and its changes were delivered; `items` is the whole collection as listed. */
  onSynced?(items: RawObject[]): void;
}

/** Log lines of the watch layer. */
export interface WatchLogger {
  debug(message: string, meta?: Record<string, unknown>): void;
  info(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
}

export const DEFAULT_BACKOFF: Backoff = { initialMs: 200, maxMs: 10_000 };

export interface ListWatchOptions {
  /** Our name for the collection, in logs and health messages (e.g. "VirtualIP"). */
  name: string;
  /** Collection path, e.g. "/api/v1/namespaces/x/secrets". */
  path: string;
  labelSelector?: string;
  fieldSelector?: string;
  transport: ListWatchTransport;
  clock: Clock;
  handler: ListWatchHandler;
  logger?: WatchLogger;
  /** Called on every failed attempt, with the wait before the next. */
  onError?(err: unknown, retryInMs: number): void;
  /** Called when a watch request ended: resumed from its resourceVersion, relisted after 410 Gone, or failed (then backs off). */
  onRestart?(how: RestartKind): void;
  /** Called when the watch goes down (a failed attempt after being up) and when it is current again (opened or relisted). */
  onHealthChange?(ok: boolean): void;
  backoff?: Backoff;
  /** Items per list page. Default 500. */
  pageSize?: number;
  /** Random source for jitter (tests pin it). Default Math.random. */
  random?: () => number;
}

/** How a list+watch carried on after a watch request ended. */
export type RestartKind = "resumed" | "relisted" | "failed";

/** Health of one list+watch. */
export interface WatchHealth {
  ok: boolean;
  /** Why not (never a secret). */
  message?: string;
}

/** How long 429 waits when the server names no Retry-After (a resource that is (re)initializing after a restart). */
const TOO_MANY_REQUESTS_MS = 1000;

/**
 * The wait after a failure: a 429 (the API server starting, or shedding load)
 * waits what the server asks (Retry-After, default 1 s, within the backoff's
 * cap), jittered; anything else the exponential backoff. Pure.
 */
export function retryDelay(err: unknown, failures: number, backoff: Backoff, random: number): number {
  if (err instanceof ApiError && err.statusCode === 429) {
    const asked = Math.min(err.retryAfterMs ?? TOO_MANY_REQUESTS_MS, backoff.maxMs);
    return Math.round(asked * (0.5 + 0.5 * random));
  }
  return backoffDelay(failures, backoff, random);
}

/** Key of an object: "namespace/name", or "name" for cluster-scoped objects. */
export function rawKey(obj: RawObject): string {
  const ns = obj.metadata?.namespace;
  const name = obj.metadata?.name ?? "";
  return ns ? `${ns}/${name}` : name;
}

/** What the list+watch remembers of an object: enough to diff a relist and to report its deletion. */
function identity(obj: RawObject): RawObject {
  const m = obj.metadata ?? {};
  const metadata: NonNullable<RawObject["metadata"]> = { name: m.name ?? "", resourceVersion: m.resourceVersion ?? "" };
  if (m.namespace) metadata.namespace = m.namespace;
  if (m.uid) metadata.uid = m.uid;
  return { ...(obj.apiVersion ? { apiVersion: obj.apiVersion } : {}), ...(obj.kind ? { kind: obj.kind } : {}), metadata };
}

/** A watch that opened and closed within this time without a single line is a failing server, not a timeout. */
const QUICK_CLOSE_MS = 1000;

/** How one watch request ended. */
type WatchEnd = "ended" | "gone";

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** One list+watch; {@link start} runs it until {@link stop}. */
export class ListWatch {
  private store = new Map<string, RawObject>();
  private resourceVersion: string | undefined;
  private stopped = false;
  private listed = false;
  private down: { since: number; error: string } | undefined;
  private stream: WatchStream | undefined;
  private timer: Timer | undefined;
  private wake: (() => void) | undefined;
  private readonly backoff: Backoff;
  private readonly random: () => number;

  constructor(private readonly opts: ListWatchOptions) {
    this.backoff = opts.backoff ?? DEFAULT_BACKOFF;
    this.random = opts.random ?? Math.random;
  }

  /** Starts listing and watching; returns at once. */
  start(): void {
    void this.run();
  }

  /** Stops for good: aborts the request, ends a backoff wait. */
  stop(): void {
    this.stopped = true;
    this.stream?.abort();
    this.endWait();
  }

  /** Ends a backoff wait at once (e.g. the API server is known to be back). */
  retryNow(): void {
    this.endWait();
  }

  /** Whether the collection was listed at least once. */
  get synced(): boolean {
    return this.listed;
  }

  /** Ready when listed and the watch is not down. */
  health(): WatchHealth {
    if (this.down) return { ok: false, message: `${this.opts.name}: ${this.down.error}` };
    if (!this.listed) return { ok: false, message: `${this.opts.name}: not listed yet` };
    return { ok: true };
  }

  private selectors(): Query {
    const q: Query = {};
    if (this.opts.labelSelector) q.labelSelector = this.opts.labelSelector;
    if (this.opts.fieldSelector) q.fieldSelector = this.opts.fieldSelector;
    return q;
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      try {
        let relisted = false;
        if (this.resourceVersion === undefined) {
          await this.relist();
          relisted = true;
        }
        const { end, lines } = await this.watchFrom(this.resourceVersion ?? "");
        if (end === "gone") {
          this.resourceVersion = undefined;
          // Expired at once after a fresh list: something is wrong with the server; back off instead of spinning.
          if (relisted && lines <= 1) throw new ApiError(`watch of ${this.opts.name} expired right after a list`, 410);
          this.opts.logger?.info("Watch expired, relisting", { resource: this.opts.name });
        }
        this.opts.onRestart?.(end === "gone" ? "relisted" : "resumed");
        failures = 0;
      } catch (err) {
        if (this.stopped) break;
        failures++;
        this.opts.onRestart?.("failed");
        const waitMs = retryDelay(err, failures, this.backoff, this.random());
        this.markDown(err, waitMs, failures);
        await this.sleep(waitMs);
      }
    }
  }

  /** Lists every page, delivers what changed since the last list (deletions included), then onSynced. */
  private async relist(): Promise<void> {
    const items: RawObject[] = [];
    let resourceVersion = "";
    let next: string | undefined;
    this.opts.handler.onListStart?.();
    do {
      const page = await this.opts.transport.list(this.opts.path, {
        ...this.selectors(),
        limit: String(this.opts.pageSize ?? 500),
        ...(next ? { continue: next } : {}),
      });
      items.push(...page.items);
      if (!resourceVersion) resourceVersion = page.resourceVersion;
      next = page.continue;
    } while (next && !this.stopped);
    if (this.stopped) return;
    const seen = new Map<string, RawObject>();
    for (const item of items) {
      const key = rawKey(item);
      const before = this.store.get(key);
      seen.set(key, identity(item));
      if (!before) this.deliver("ADDED", item, "list");
      else if (before.metadata?.resourceVersion !== item.metadata?.resourceVersion) this.deliver("MODIFIED", item, "list");
    }
    for (const [key, before] of this.store) if (!seen.has(key)) this.deliver("DELETED", before, "list");
    this.store = seen;
    this.resourceVersion = resourceVersion;
    this.listed = true;
    this.markUp();
    try {
      this.opts.handler.onSynced?.(items);
    } catch (err) {
      this.opts.logger?.warn("Watch handler failed", { resource: this.opts.name, error: errorText(err) });
    }
  }

  private deliver(type: WatchEventType, obj: RawObject, origin: ChangeOrigin): void {
    try {
      this.opts.handler.onEvent(type, obj, origin);
    } catch (err) {
      this.opts.logger?.warn("Watch handler failed", { resource: this.opts.name, error: errorText(err) });
    }
  }

  /** Watches from `rv` until the stream ends; rejects on a failure (an ERROR line other than 410 included). */
  private async watchFrom(rv: string): Promise<{ end: WatchEnd; lines: number }> {
    const started = this.opts.clock.now();
    let lines = 0;
    let end: WatchEnd = "ended";
    let failure: Error | undefined;
    // No timeoutSeconds: the API server ends the watch after its --min-request-timeout (30 to 60 min by default, jittered).
    const query: Query = { ...this.selectors(), watch: "true", resourceVersion: rv, allowWatchBookmarks: "true" };
    const stream = this.opts.transport.watch(this.opts.path, query, {
      onOpen: () => this.markUp(),
      onLine: (line) => {
        lines++;
        if (this.stopped || failure || end === "gone") return;
        if (line.type === "ERROR") {
          const code = line.object.code;
          if (code === 410) end = "gone";
          else failure = new ApiError(`watch of ${this.opts.name}: ${line.object.message ?? "error"}`, code);
          stream.abort();
          return;
        }
        this.applyLine(line);
      },
    });
    this.stream = stream;
    try {
      await stream.done;
    } catch (err) {
      if (err instanceof ApiError && err.statusCode === 410) return { end: "gone", lines };
      throw err;
    } finally {
      this.stream = undefined;
    }
    if (failure) throw failure;
    if (end === "ended" && lines === 0 && !this.stopped && this.opts.clock.now() - started < QUICK_CLOSE_MS) {
      throw new ApiError(`watch of ${this.opts.name} closed at once`);
    }
    return { end, lines };
  }

  private applyLine(line: WatchLine): void {
    const obj = line.object;
    const rv = obj.metadata?.resourceVersion;
    switch (line.type) {
      case "BOOKMARK":
        break;
      case "ADDED":
      case "MODIFIED":
        this.store.set(rawKey(obj), identity(obj));
        this.deliver(line.type, obj, "watch");
        break;
      case "DELETED":
        this.store.delete(rawKey(obj));
        this.deliver("DELETED", obj, "watch");
        break;
      default:
        return;
    }
    if (rv) this.resourceVersion = rv;
  }

  private markUp(): void {
    if (!this.down) return;
    const downMs = this.opts.clock.now() - this.down.since;
    this.down = undefined;
    this.opts.logger?.info("Watch recovered", { resource: this.opts.name, downMs });
    this.opts.onHealthChange?.(true);
  }

  private markDown(err: unknown, retryInMs: number, failures: number): void {
    const error = errorText(err);
    const wasUp = this.down === undefined;
    this.down = { since: this.down?.since ?? this.opts.clock.now(), error };
    if (wasUp) this.opts.onHealthChange?.(false);
    this.opts.onError?.(err, retryInMs);
    this.opts.logger?.warn("Watch failed, retrying", { resource: this.opts.name, error, retryInMs, failures });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
      this.timer = this.opts.clock.setTimer(resolve, ms);
    });
  }

  private endWait(): void {
    this.timer?.cancel();
    this.timer = undefined;
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}
