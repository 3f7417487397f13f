// The incremental renderer against the full pass: random sequences of views
// in which mostly VirtualIPs change (addresses moved onto and off each other,
// router ids shared and split, node sets that balance several instances,
// Services and EndpointSlices), each planned by one long-lived PlanSession and
// by planCluster from scratch; the two plans must be equal after every step.
// PLANNER_SEED replays a failure; PLANNER_RUNS sets how many sequences.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { V1EndpointSlice, V1Node, V1Service } from "@kubernetes/client-node";
import type { VirtualIP } from "../../../src/api/index.js";
import { planCluster, PlanSession, type ClusterView } from "../../../src/render/index.js";
import { node, service, slice, view, vip } from "./factory.js";
import { prng } from "../../support/prng.js";

const NODES = ["node-a", "node-b", "node-c", "node-d", "node-e"];
const ADDRESSES = ["192.0.2.100", "192.0.2.101", "192.0.2.102", "192.0.2.103", "2001:db8::100", "2001:db8::101"];
const SERVICES = ["web", "api"];
const NAMESPACES = ["default", "team"];
const NOW = Date.parse("2026-03-01T12:00:00Z");

/** A cluster as views: VirtualIPs by key, and the rest. */
class World {
  readonly vips = new Map<string, VirtualIP>();
  nodes: V1Node[] = NODES.map((n, i) => node(n, [`192.0.2.${11 + i}`, `2001:db8::${11 + i}`], { labels: { zone: i < 3 ? "a" : "b" } }));
  services: V1Service[] = NAMESPACES.flatMap((ns) => SERVICES.map((s) => service(s, { type: "LoadBalancer", ports: [{ port: 80 }] }, ns)));
  slices: V1EndpointSlice[] = [];
  private generation = 1;

  constructor(private readonly r: () => number) {}

  int(n: number): number {
    return Math.floor(this.r() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)] as T;
  }
  chance(p: number): boolean {
    return this.r() < p;
  }

  /** A VirtualIP, mostly with its own address and router id; some drawn from the pool, some with the allocation in their status. */
  virtualIP(name: string, namespace: string): VirtualIP {
    const own = this.chance(0.9);
    const spec = {
      serviceRef: { name: this.pick(SERVICES) },
      forwarding: this.pick(["kube-proxy", "ipvs"] as const),
      ...(own ? { address: this.pick(ADDRESSES) } : { address: undefined }),
      ...(this.chance(0.85) ? { virtualRouterId: 1 + this.int(3) } : { virtualRouterId: undefined }),
      ...(this.chance(0.5) ? { nodeSelector: { matchLabels: { zone: this.pick(["a", "b"]) } } } : {}),
      ...(this.chance(0.1) ? { vrrp: { priorities: { [this.pick(NODES)]: 200 } } } : {}),
    };
    const created = new Date(Date.UTC(2026, 0, 1, 0, this.int(60))).toISOString();
    const v = vip({ name, namespace, created, spec: spec });
    const generation = ++this.generation;
    const withMeta = { ...v, metadata: { ...v.metadata, generation } };
    // The operator records an allocation soon after it is made: most VirtualIPs that needed one have it in their status.
    const allocated = v.spec.address === undefined || v.spec.virtualRouterId === undefined;
    if (!this.chance(allocated ? 0.9 : 0.5)) return withMeta;
    const address = v.spec.address ?? this.pick(ADDRESSES);
    const virtualRouterId = v.spec.virtualRouterId ?? 1 + this.int(3);
    const claim = this.chance(0.7) ? { claim: { address, virtualRouterId, generation, time: `2026-02-0${1 + this.int(9)}T00:00:00Z` } } : {};
    return { ...withMeta, status: { address, virtualRouterId, pool: "test", ...claim } };
  }

  /** One random change; mostly to VirtualIPs. */
  step(): void {
    const op = this.int(100);
    const ns = this.pick(NAMESPACES);
    if (op < 75) {
      const key = `${ns}/vip-${this.int(12)}`;
      if (this.vips.has(key) && this.chance(0.15)) this.vips.delete(key);
      else this.vips.set(key, this.virtualIP(key.split("/")[1] as string, ns));
    } else if (op < 85) {
      const name = this.pick(SERVICES);
      const rest = this.services.filter((s) => !(s.metadata?.name === name && s.metadata?.namespace === ns));
      const type = this.chance(0.8) ? "LoadBalancer" : "ClusterIP";
      this.services = [...rest, service(name, { type, ports: [{ port: 80 }], ...(this.chance(0.2) ? { externalTrafficPolicy: "Local" } : {}) }, ns)];
    } else if (op < 95) {
      const svc = this.pick(SERVICES);
      const rest = this.slices.filter((s) => s.metadata?.name !== `${svc}-${ns}`);
      const endpoints = Array.from({ length: this.int(3) }, (_, i) => ({ ip: `198.51.100.${20 + i}`, ready: this.chance(0.8) }));
      const s = slice(`${svc}-${ns}`, { service: svc, namespace: ns, ports: [{ port: 8080, protocol: "TCP" }], endpoints });
      this.slices = [...rest, { ...s, endpoints: (s.endpoints ?? []).map((e) => ({ ...e, nodeName: this.pick(NODES) })) }];
    } else {
      const i = this.int(NODES.length);
      this.nodes = this.nodes.map((n, j) => (j === i ? node(NODES[i] as string, [`192.0.2.${11 + i}`], { labels: { zone: this.pick(["a", "b"]) } }) : n));
    }
  }

  view(): ClusterView {
    return view([...this.vips.values()], { nodes: this.nodes, services: this.services, endpointSlices: this.slices, now: NOW });
  }
}

void describe("PlanSession", () => {
  void test("plans every view of random change sequences exactly as planCluster does", () => {
    const fixed = process.env.PLANNER_SEED;
    const runs = fixed !== undefined ? 1 : Number(process.env.PLANNER_RUNS ?? 300);
    const base = fixed !== undefined ? Number(fixed) : Math.floor(Math.random() * 2 ** 31);
    const counts = { steps: 0, incremental: 0, instances: 0 };
    const reasons: Record<string, number> = {};
    for (let r = 0; r < runs; r++) {
      const seed = (base + r * 7919) >>> 0;
      const world = new World(prng(seed));
      const session = new PlanSession();
      /** A plan kept (never released) and its entries as returned: the session must never write to it. */
      let held: { plan: ReturnType<typeof planCluster>; text: string } | undefined;
      let previous: ReturnType<typeof planCluster> | undefined;
      for (let step = 0; step < 20; step++) {
        for (let k = 1 + world.int(2); k > 0; k--) world.step();
        const v = world.view();
        const got = session.plan(v);
        // As the operator does: the plan before this one is read no more (but one now and then is kept).
        if (previous && previous !== held?.plan) session.release(previous);
        previous = got;
        if (!held || world.chance(0.1)) held = { plan: got, text: JSON.stringify(got.virtualIPs) };
        assert.equal(JSON.stringify(held.plan.virtualIPs), held.text, `seed ${seed}, step ${step}: a plan not released was written to`);
        const want = planCluster(v);
        counts.steps++;
        if (session.last.kind === "incremental") counts.incremental++;
        else reasons[session.last.reason ?? ""] = (reasons[session.last.reason ?? ""] ?? 0) + 1;
        counts.instances += want.instances.length;
        try {
          assert.deepEqual(got, want);
        } catch (err) {
          assert.fail(`seed ${seed}, step ${step} (${session.last.kind}): ${(err as Error).message.slice(0, 3000)}\nreplay: PLANNER_SEED=${seed}`);
        }
      }
    }
    process.stdout.write(`# session property: ${JSON.stringify({ seed: base, runs, ...counts, reasons })}\n`);
    assert.ok(counts.incremental > counts.steps / 3, `too few incremental passes: ${JSON.stringify(counts)}`);
    assert.ok(counts.instances > counts.steps * 2, `too few instances: ${JSON.stringify(counts)}`);
  });
});
