// Runs the pure renderer inline (a long-lived session, the operator's default:
// a change re-plans only what it touches) or in a worker thread (full passes
// off the event loop, for --render-thread=worker). I/O (threads).
import { Worker } from "node:worker_threads";
import { planCluster, PlanSession, type ClusterPlan, type ClusterView, type RenderOptions } from "../render/index.js";
import type { RenderRequest } from "./render-thread.js";

/** Plans a cluster view; the same contract as planCluster, asynchronously. */
export type Renderer = (view: ClusterView, options?: RenderOptions) => Promise<ClusterPlan>;

/** A synchronous planner as a {@link Renderer} on the calling thread (a throw becomes a rejection). */
function onThisThread(plan: (view: ClusterView, options?: RenderOptions) => ClusterPlan): Renderer {
  return (view, options) => {
    try {
      return Promise.resolve(plan(view, options));
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  };
}

/** planCluster on the calling thread. */
export const renderInline: Renderer = onThisThread(planCluster);

/** A long-lived {@link PlanSession} on the calling thread: each view re-plans only what changed since the last (ADR 0021). */
export function sessionRenderer(session: PlanSession = new PlanSession()): Renderer {
  return onThisThread((view, options) => session.plan(view, options));
}

type Reply = { id: number; plan: ClusterPlan } | { id: number; error: string };

/**
 * Starts the worker. From compiled JavaScript the entry is render-thread.js;
 * from TypeScript source (tsx, in tests) a worker gets no loader hooks, so a
 * small bootstrap registers tsx in it first.
 */
function startWorker(): Worker {
  const fromSource = import.meta.url.endsWith(".ts");
  if (!fromSource) return new Worker(new URL("./render-thread.js", import.meta.url));
  const entry = JSON.stringify(new URL("./render-thread.ts", import.meta.url).href);
  const tsx = JSON.stringify(import.meta.resolve("tsx/esm/api"));
  return new Worker(`import(${tsx}).then(({ register }) => { register(); return import(${entry}); });`, { eval: true });
}

/** A renderer in a worker thread, started on first use and again after a crash. */
export class RenderWorker {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (p: ClusterPlan) => void; reject: (e: Error) => void }>();

  /** The {@link Renderer} function of this worker. */
  readonly render: Renderer = (view, options) =>
    new Promise((resolve, reject) => {
      const id = this.nextId++;
      this.pending.set(id, { resolve, reject });
      const req: RenderRequest = options ? { id, view, options } : { id, view };
      this.ensure().postMessage(req);
    });

  private ensure(): Worker {
    if (this.worker) return this.worker;
    const w = startWorker();
    w.unref();
    w.on("message", (reply: Reply) => {
      const p = this.pending.get(reply.id);
      if (!p) return;
      this.pending.delete(reply.id);
      if ("error" in reply) p.reject(new Error(`render failed: ${reply.error}`));
      else p.resolve(reply.plan);
    });
    const fail = (err: Error): void => {
      if (this.worker === w) this.worker = undefined;
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    w.on("error", fail);
    w.on("exit", (code) => fail(new Error(`render worker exited with code ${code}`)));
    this.worker = w;
    return w;
  }

  /** Stops the worker. */
  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }
}
