// The admin's floor on the advert interval (RenderOptions.minAdvertIntervalMs):
// a VirtualIP below it is refused with AdvertIntervalTooShort; nothing else moves.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_MIN_ADVERT_INTERVAL_MS, ReadyReason } from "../../../src/api/index.js";
import { planCluster, renderNodeConfigs } from "../../../src/render/index.js";
import type { RenderOptions } from "../../../src/render/index.js";
import { view, vip } from "./factory.js";

void describe("advert interval floor", () => {
  const cases: { name: string; version: 2 | 3; interval: string; floorMs?: number; refused: boolean }[] = [
    { name: "10ms under the default floor", version: 3, interval: "10ms", refused: true },
    { name: "90ms under the default floor", version: 3, interval: "90ms", refused: true },
    { name: "100ms at the default floor", version: 3, interval: "100ms", refused: false },
    { name: "1s over the default floor", version: 3, interval: "1s", refused: false },
    { name: "10ms with a 10ms floor", version: 3, interval: "10ms", floorMs: 10, refused: false },
    { name: "490ms with a 500ms floor", version: 3, interval: "490ms", floorMs: 500, refused: true },
    { name: "VRRPv2 1s with a 2s floor", version: 2, interval: "1s", floorMs: 2000, refused: true },
    { name: "VRRPv2 2s with a 2s floor", version: 2, interval: "2s", floorMs: 2000, refused: false },
    { name: "1.5s with a 1s floor", version: 3, interval: "1.5s", floorMs: 1000, refused: false },
  ];
  for (const c of cases) {
    void test(`${c.name}: ${c.refused ? "refused" : "accepted"}`, () => {
      const options: RenderOptions = c.floorMs === undefined ? {} : { minAdvertIntervalMs: c.floorMs };
      const plan = planCluster(view([vip({ name: "web", spec: { vrrp: { version: c.version, advertisementInterval: c.interval } } })]), options);
      const floorMs = c.floorMs ?? DEFAULT_MIN_ADVERT_INTERVAL_MS;
      if (c.refused) {
        assert.deepEqual(plan.problems, [
          {
            virtualIP: "default/web",
            condition: "Ready",
            reason: ReadyReason.AdvertIntervalTooShort,
            message: `VirtualIP default/web: spec.vrrp.advertisementInterval: ${c.interval} is below the smallest advert interval this cluster allows, ${floorMs}ms (operator --min-advert-interval)`,
            excluded: true,
          },
        ]);
        assert.deepEqual(plan.instances, []);
        assert.equal(plan.virtualIPs["default/web"]?.instance, undefined);
        for (const n of renderNodeConfigs(plan)) assert.doesNotMatch(n.config, /vrrp_instance/, n.node);
      } else {
        assert.deepEqual(plan.problems, []);
        assert.equal(plan.virtualIPs["default/web"]?.instance, "vip_4_51");
      }
    });
  }

  void test("a refused VirtualIP disturbs no other: same address and router id, the older good one keeps its instance and has no conflict", () => {
    const good = vip({ name: "good", created: "2024-02-01T00:00:00Z", spec: { vrrp: { version: 3, advertisementInterval: "1s" } } });
    // Older than the good one: were it not refused, it would win the conflict.
    const fast = vip({ name: "fast", created: "2024-01-01T00:00:00Z", spec: { vrrp: { version: 3, advertisementInterval: "20ms" } } });
    const plan = planCluster(view([good, fast]));
    assert.deepEqual(
      plan.problems.map((p) => [p.virtualIP, p.reason]),
      [["default/fast", ReadyReason.AdvertIntervalTooShort]],
    );
    assert.deepEqual(plan.virtualIPs["default/good"]?.nodes, ["node-a", "node-b", "node-c"]);
    assert.deepEqual(
      plan.instances.map((i) => i.virtualIPs),
      [["default/good"]],
    );
  });

  void test("the floor problem comes after a spec problem of the same VirtualIP, never both", () => {
    // The API server would refuse this address; the renderer must not trust that it did.
    const parsed = vip({ name: "bad", spec: { vrrp: { version: 3, advertisementInterval: "1s" } } });
    const bad = { ...parsed, spec: { ...parsed.spec, address: "192.0.2.0500" } };
    const plan = planCluster(view([bad]), { minAdvertIntervalMs: 5000 });
    assert.deepEqual(
      plan.problems.map((p) => p.reason),
      [ReadyReason.InvalidSpec],
    );
  });

  void test("a floor that is not a whole number of milliseconds, 0 or more, is a caller bug", () => {
    for (const bad of [-1, 1.5, Number.NaN]) assert.throws(() => planCluster(view([]), { minAdvertIntervalMs: bad }), /minAdvertIntervalMs/);
  });
});
