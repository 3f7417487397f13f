import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { parseVirtualIP } from "../../../src/api/index.js";
import type { ClusterView } from "../../../src/render/index.js";
import { RenderWorker, renderInline } from "../../../src/operator/render-worker.js";
import { testPool } from "../../support/pools.js";

function view(): ClusterView {
  const vip = parseVirtualIP({
    apiVersion: "keepalived-vip.io/v1alpha1",
    kind: "VirtualIP",
    metadata: { name: "web", namespace: "default", creationTimestamp: "2024-01-01T00:00:00Z" },
    spec: { serviceRef: { name: "web" }, address: "192.0.2.50", virtualRouterId: 51, forwarding: "kube-proxy" },
  });
  if (!vip.ok) throw new Error(vip.error);
  const node = (name: string, ip: string) => ({ metadata: { name, uid: `u-${name}` }, status: { addresses: [{ type: "InternalIP", address: ip }] } });
  return {
    virtualIPs: [vip.value],
    nodes: [node("node-a", "192.0.2.11"), node("node-b", "192.0.2.12")],
    services: [{ metadata: { name: "web", namespace: "default" }, spec: { type: "LoadBalancer", ports: [{ port: 80 }] } }],
    endpointSlices: [],
    secrets: [],
    nodeInterfaces: {},
    pools: [testPool()],
  };
}

void describe("RenderWorker", () => {
  void test("plans in a worker thread exactly what planCluster plans inline", async () => {
    const w = new RenderWorker();
    try {
      const [a, b] = await Promise.all([w.render(view()), renderInline(view())]);
      assert.deepEqual(a, b);
      assert.equal(a.nodes.length, 2);
      assert.match(a.published[0]?.json ?? "", /192\.0\.2\.50/);
      // A second request reuses the same worker.
      assert.deepEqual(await w.render(view()), b);
    } finally {
      await w.close();
    }
  });

  void test("a renderer error comes back as a rejection, and the worker keeps serving", async () => {
    const w = new RenderWorker();
    try {
      await assert.rejects(w.render(view(), { runtimeDir: "relative/dir" }), /render failed: .*runtimeDir/);
      assert.equal((await w.render(view())).nodes.length, 2);
    } finally {
      await w.close();
    }
  });
});
