import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { fitPlan, PLAN_OBJECT_BUDGET_BYTES } from "../../../src/operator/fit.js";
import { planCluster, type ClusterPlan, type ClusterView } from "../../../src/render/index.js";
import { service, slice, view, vip } from "../render/factory.js";

const render = (v: ClusterView): Promise<ClusterPlan> => Promise.resolve(planCluster(v));

/** A Service of `ports` ports with `endpoints` ready endpoints each (EndpointSlices of at most 100 ports). */
function bigService(name: string, ports: number, endpoints: number): Pick<ClusterView, "services" | "endpointSlices"> {
  const all = Array.from({ length: ports }, (_, i) => ({ name: `p${i}`, port: 10_000 + i, protocol: "TCP" }));
  const eps = Array.from({ length: endpoints }, (_, i) => ({ ip: `198.51.100.${(i % 250) + 1}` }));
  const slices = [];
  for (let i = 0; i < ports; i += 100) slices.push(slice(`${name}-${i / 100}`, { service: name, ports: all.slice(i, i + 100), endpoints: eps }));
  return { services: [service(name, { type: "LoadBalancer", ports: all.map((p) => ({ name: p.name, port: p.port })) })], endpointSlices: slices };
}

const ipvs = { forwarding: "ipvs" as const, virtualRouterId: 51 };
const victim = vip({
  name: "victim",
  namespace: "team-a",
  created: "2024-01-01T00:00:00Z",
  spec: { ...ipvs, address: "192.0.2.50", serviceRef: { name: "web" } },
});
const joiner = vip({
  name: "joiner",
  namespace: "team-a",
  created: "2024-02-01T00:00:00Z",
  spec: { ...ipvs, address: "192.0.2.51", serviceRef: { name: "huge" } },
});
const other = vip({
  name: "other",
  namespace: "team-c",
  created: "2024-03-01T00:00:00Z",
  spec: { forwarding: "kube-proxy", virtualRouterId: 52, address: "192.0.2.52" },
});

function cluster(vips = [victim, joiner, other]): ClusterView {
  const huge = bigService("huge", 300, 100);
  const base = view(vips);
  return {
    ...base,
    services: [...base.services, ...huge.services.map((s) => ({ ...s, metadata: { ...s.metadata, namespace: "team-a" } }))],
    endpointSlices: huge.endpointSlices.map((s) => ({ ...s, metadata: { ...s.metadata, namespace: "team-a" } })),
  };
}

function withService(v: ClusterView): ClusterView {
  return { ...v, services: [...v.services, service("web", undefined, "team-a"), service("web", undefined, "team-c")] };
}

void describe("fitPlan: every published object under the API's size limit", () => {
  void test("the unfitted plan really is too large (300 ports x 100 endpoints joining a small instance)", () => {
    const plan = planCluster(withService(cluster()));
    const biggest = Math.max(...plan.published.map((p) => Buffer.byteLength(p.json)));
    assert.ok(biggest > PLAN_OBJECT_BUDGET_BYTES, `the joined instance publishes ${biggest} bytes`);
  });

  void test("the joiner is refused (TooLarge, naming it and the fields); the VirtualIP already in the instance and an unrelated one stay", async () => {
    const { plan, refused } = await fitPlan(withService(cluster()), render);
    assert.deepEqual(
      refused.map((p) => `${p.virtualIP}:${p.reason}`),
      ["team-a/joiner:TooLarge"],
    );
    assert.match(refused[0]?.message ?? "", /team-a\/joiner.*over the \d+-byte limit.*spec\.virtualRouterId.*spec\.serviceRef/);
    assert.ok(plan.problems.some((p) => p.virtualIP === "team-a/joiner" && p.reason === "TooLarge" && p.excluded));
    assert.equal(plan.virtualIPs["team-a/joiner"]?.instance, undefined, "the joiner is in no instance");
    assert.equal(plan.virtualIPs["team-a/joiner"]?.address, "192.0.2.51", "the joiner keeps its address while left out");
    assert.ok(plan.virtualIPs["team-a/victim"]?.instance, "the victim keeps its instance");
    assert.ok(plan.virtualIPs["team-c/other"]?.instance, "an unrelated VirtualIP is untouched");
    for (const p of [...plan.published, ...plan.nodes]) assert.ok(Buffer.byteLength(p.json) <= PLAN_OBJECT_BUDGET_BYTES);
  });

  void test("the plan of the others is the same as without the joiner (byte for byte)", async () => {
    const { plan } = await fitPlan(withService(cluster()), render);
    const without = planCluster(withService(cluster([victim, other])));
    assert.deepEqual(
      plan.published.map((p) => p.hash),
      without.published.map((p) => p.hash),
    );
    assert.deepEqual(
      plan.nodes.map((p) => p.hash),
      without.nodes.map((p) => p.hash),
    );
  });

  void test("a VirtualIP too large on its own is refused alone", async () => {
    const alone = vip({
      name: "alone",
      namespace: "team-a",
      created: "2024-01-01T00:00:00Z",
      spec: { forwarding: "ipvs", virtualRouterId: 60, address: "192.0.2.60", serviceRef: { name: "huge" } },
    });
    const { refused, plan } = await fitPlan(withService(cluster([victim, alone, other])), render);
    assert.deepEqual(
      refused.map((p) => p.virtualIP),
      ["team-a/alone"],
    );
    assert.ok(plan.virtualIPs["team-a/victim"]?.instance);
  });

  void test("a plan that fits is rendered once and returned as it is", async () => {
    let renders = 0;
    const v = withService(cluster([victim, other]));
    const { plan, refused } = await fitPlan(v, (x) => (renders++, render(x)));
    assert.equal(renders, 1);
    assert.deepEqual(refused, []);
    assert.deepEqual(plan, planCluster(v));
  });
});
