// The list+watch against a real API server and etcd: a watch that resumes from
// a resourceVersion etcd has compacted meanwhile is answered 410 Gone; the
// relist that follows delivers what happened in the gap, the deletion
// included. The API server runs without its watch cache so that the watch
// reads etcd's history (with the cache, a too-old resourceVersion is 410 too,
// but when it falls out of the cache is harder to arrange).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { ListWatch, type ChangeOrigin, type RestartKind, type WatchEventType } from "../../../src/kube/listwatch.js";
import { httpTransport, type ListWatchTransport, type WatchStream } from "../../../src/kube/transport.js";
import { createKubeClients, type KubeClients } from "../../../src/kube/client.js";
import { realClock } from "../../../src/shared/clock.js";
import { startControlPlane, type ControlPlane } from "../../support/index.js";
import { sleep } from "../../support/process.js";

const NS = "listwatch";

let cp: ControlPlane;
let admin: KubeClients;

before(async () => {
  cp = await startControlPlane({ apiServerFlags: ["--watch-cache=false"] });
  await cp.ensureNamespace(NS);
  admin = createKubeClients({ kubeconfig: cp.kubeconfigPath });
});

after(async () => {
  await cp?.stop();
});

/** The real transport, with a gate: while held, the running watch is cut and new watch requests wait. */
class GatedTransport implements ListWatchTransport {
  readonly watchQueries: Record<string, string>[] = [];
  private held: Promise<void> | undefined;
  private open: (() => void) | undefined;
  private current: WatchStream | undefined;

  constructor(private readonly real: ListWatchTransport) {}

  list(path: string, query: Record<string, string>): ReturnType<ListWatchTransport["list"]> {
    return this.real.list(path, query);
  }

  watch(path: string, query: Record<string, string>, handlers: Parameters<ListWatchTransport["watch"]>[2]): WatchStream {
    let aborted = false;
    let inner: WatchStream | undefined;
    this.watchQueries.push(query);
    const done = (async (): Promise<void> => {
      await this.held;
      if (aborted) return;
      inner = this.real.watch(path, query, handlers);
      await inner.done;
    })();
    const stream: WatchStream = {
      done,
      abort: () => {
        aborted = true;
        inner?.abort();
      },
    };
    this.current = stream;
    return stream;
  }

  /** Cuts the running watch (as a dropped connection would) and holds the next ones. */
  hold(): void {
    this.held = new Promise((resolve) => (this.open = resolve));
    this.current?.abort();
  }

  release(): void {
    this.open?.();
    this.held = undefined;
  }
}

async function configMap(name: string, value: string): Promise<void> {
  await admin.core.createNamespacedConfigMap(NS, { metadata: { name, namespace: NS }, data: { value } });
}

async function waitFor<T>(what: string, probe: () => T | undefined | false, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

void describe("list+watch against the API server", () => {
  void test("a deletion while the watch was away and etcd compacted its resourceVersion: 410, relist, the deletion is delivered", async () => {
    await configMap("kept", "1");
    await configMap("deleted", "1");
    await configMap("changed", "1");
    const transport = new GatedTransport(httpTransport(cp.kc));
    const events: { type: WatchEventType; name: string; origin: ChangeOrigin }[] = [];
    const restarts: RestartKind[] = [];
    let view: string[] = [];
    const lw = new ListWatch({
      name: "ConfigMap",
      path: `/api/v1/namespaces/${NS}/configmaps`,
      transport,
      clock: realClock,
      onRestart: (how) => restarts.push(how),
      handler: {
        onEvent: (type, obj, origin) => events.push({ type, name: obj.metadata?.name ?? "", origin }),
        onSynced: (items) => (view = items.map((i) => i.metadata?.name ?? "").sort()),
      },
    });
    lw.start();
    try {
      await waitFor("the first list", () => lw.synced);
      assert.deepEqual(view, ["changed", "deleted", "kept"]);
      // A change through the watch, so the resourceVersion to resume from is the watch's own.
      await configMap("seen", "1");
      await waitFor("the watch event", () => events.some((e) => e.name === "seen" && e.origin === "watch"));
      await sleep(1500);

      transport.hold();
      await admin.core.deleteNamespacedConfigMap("deleted", NS);
      await admin.core.patchNamespacedConfigMap("changed", NS, { data: { value: "2" } }, undefined, undefined, undefined, undefined, undefined, {
        headers: { "Content-Type": "application/merge-patch+json" },
      });
      await configMap("added", "1");
      const compactedTo = await cp.compactEtcd();
      const resumeFrom = Number(transport.watchQueries.at(-1)?.resourceVersion ?? "0");
      assert.ok(resumeFrom > 0 && resumeFrom < compactedTo, `the watch resumes from ${resumeFrom}, etcd is compacted to ${compactedTo}`);
      events.length = 0;
      transport.release();

      await waitFor("the relist after 410", () => restarts.includes("relisted"));
      await waitFor("the relist's changes", () => events.some((e) => e.type === "DELETED"));
      assert.deepEqual(events.map((e) => `${e.type} ${e.name} ${e.origin}`).sort(), ["ADDED added list", "DELETED deleted list", "MODIFIED changed list"]);
      assert.deepEqual(view, ["added", "changed", "kept", "seen"]);
      assert.deepEqual(lw.health(), { ok: true });

      // And the watch goes on from the relist.
      events.length = 0;
      await admin.core.deleteNamespacedConfigMap("kept", NS);
      await waitFor("the watch's DELETED", () => events.find((e) => e.type === "DELETED" && e.name === "kept" && e.origin === "watch"));
    } finally {
      lw.stop();
    }
  });
});
