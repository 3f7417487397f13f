// Tests of the generic metrics/health HTTP server on loopback.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Counter, Registry } from "prom-client";
import { parseBindAddress, startHealthServer, type HealthCheck } from "../../../src/shared/health-server.js";

void describe("parseBindAddress", () => {
  const cases: Array<[string, { host: string; port: number } | "error"]> = [
    ["0.0.0.0:9101", { host: "0.0.0.0", port: 9101 }],
    [":8080", { host: "0.0.0.0", port: 8080 }],
    ["127.0.0.1:0", { host: "127.0.0.1", port: 0 }],
    ["[::1]:9101", { host: "::1", port: 9101 }],
    ["localhost", "error"],
    ["1.2.3.4:70000", "error"],
    ["::1:80", "error"],
  ];
  for (const [input, want] of cases) {
    void test(`${input} -> ${JSON.stringify(want)}`, () => {
      if (want === "error") assert.throws(() => parseBindAddress(input));
      else assert.deepEqual(parseBindAddress(input), want);
    });
  }
});

void describe("startHealthServer", () => {
  void test("serves metrics, passing and failing probes, and 404 elsewhere", async () => {
    const registry = new Registry();
    const counter = new Counter({ name: "test_things_total", help: "Things", registers: [registry] });
    counter.inc(3);
    let live = true;
    const healthz: Record<string, HealthCheck> = { child: () => ({ ok: live, message: "child is down" }) };
    const readyz: Record<string, HealthCheck> = {
      config: () => ({ ok: true }),
      boom: () => {
        throw new Error("exploded");
      },
    };
    const srv = await startHealthServer({ bindAddress: "127.0.0.1:0", registry, healthz, readyz });
    try {
      const base = `http://127.0.0.1:${srv.port}`;
      const metrics = await fetch(`${base}/metrics`);
      assert.equal(metrics.status, 200);
      assert.match(await metrics.text(), /^test_things_total 3$/m);

      const ok = await fetch(`${base}/healthz`);
      assert.equal(ok.status, 200);
      assert.equal(await ok.text(), "[+]child ok\nok\n");

      live = false;
      const down = await fetch(`${base}/healthz?verbose`);
      assert.equal(down.status, 503);
      assert.match(await down.text(), /\[-\]child failed: child is down/);

      const ready = await fetch(`${base}/readyz`);
      assert.equal(ready.status, 503);
      const body = await ready.text();
      assert.match(body, /\[-\]boom failed: exploded/);
      assert.match(body, /\[\+\]config ok/);

      assert.equal((await fetch(`${base}/nope`)).status, 404);
      assert.equal((await fetch(`${base}/healthz`, { method: "POST" })).status, 405);
    } finally {
      await srv.close();
    }
  });

  void test("without checks both probes pass", async () => {
    const srv = await startHealthServer({ bindAddress: "127.0.0.1:0" });
    try {
      assert.equal((await fetch(`http://127.0.0.1:${srv.port}/readyz`)).status, 200);
      assert.equal((await fetch(`http://127.0.0.1:${srv.port}/metrics`)).status, 404);
    } finally {
      await srv.close();
    }
  });
});
