// Incremental planning against the reference: thousands of random change
// sequences (VirtualIPs, Services, EndpointSlices, Nodes, agent Leases,
// pools) applied to an ObjectCache; after every step, a long-lived planning
// session (parser cache, status-input index, Secrets reused by hash, statuses
// planned only for the VirtualIPs marked) must publish exactly what a fresh
// session planning everything from scratch publishes: plan, Secrets, statuses.
// PLANNER_SEED=<n> replays one run; PLANNER_RUNS sets how many.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  ANNOTATION_DEFAULT_INTERFACE,
  ANNOTATION_HOST_ADDRESSES,
  ANNOTATION_INTERFACES,
  API_VERSION,
  KIND,
  OPERATOR_FIELD_MANAGER,
  agentLeaseName,
} from "../../../src/api/index.js";
import type { RawObject } from "../../../src/kube/watch.js";
import { ObjectCache, type Kind } from "../../../src/operator/cache.js";
import { DeletionTracker } from "../../../src/operator/deletion.js";
import { leftOutAsTooLarge, renderPass, type BuiltSecret, type RenderState } from "../../../src/operator/desired.js";
import { VirtualIPDerivations } from "../../../src/operator/derived.js";
import { gatherVirtualIPs, VirtualIPGatherer, VirtualIPParser } from "../../../src/operator/gather.js";
import { HeartbeatSightings } from "../../../src/operator/heartbeats.js";
import { StatusInputIndex, unionDirty, type DirtyStatuses } from "../../../src/operator/planner.js";
import { PlanSession } from "../../../src/render/index.js";
import { renderInline, sessionRenderer, type Renderer } from "../../../src/operator/render-worker.js";
import { planStatus, type StatusContext } from "../../../src/operator/vipstatus.js";
import type { ClusterPlan } from "../../../src/render/index.js";
import { testPoolObject } from "../../support/pools.js";
import { prng } from "../../support/prng.js";

const PLAN_NS = "kv-system";
const NOW = Date.parse("2026-03-01T12:00:00Z");

/** Random choices over one PRNG. */
class Dice {
  constructor(readonly next: () => number) {}
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)] as T;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

const NODES = ["n0", "n1", "n2", "n3", "n4", "n5"];
const NAMESPACES = ["ns-a", "ns-b"];
const SERVICES = ["svc0", "svc1", "svc2"];
const ADDRESSES = ["192.0.2.100", "192.0.2.101", "192.0.2.102", "198.51.100.7", "2001:db8::100", "2001:db8::101", undefined];

/** The cluster as the tests change it: every object through the cache, as watch events would put them. */
class World {
  readonly cache = new ObjectCache();
  private rv = 1;
  private uid = 1;
  /** VirtualIP keys changed since the last plan (the reconciler marks their statuses). */
  changedVirtualIPs = new Set<string>();
  /** Agent Leases came or went since the last plan (the reconciler marks every status). */
  livenessChanged = false;

  constructor(private readonly dice: Dice) {}

  private meta(extra: Record<string, unknown>): Record<string, unknown> {
    return { resourceVersion: String(++this.rv), ...extra };
  }

  put(kind: Kind, obj: RawObject): void {
    this.cache.put(kind, { ...obj, metadata: { ...obj.metadata, resourceVersion: String(++this.rv) } });
    this.note(kind, obj);
  }

  remove(kind: Kind, key: string): void {
    const obj = this.cache.get(kind, key);
    this.cache.remove(kind, key);
    if (obj) this.note(kind, obj);
  }

  private note(kind: Kind, obj: RawObject): void {
    if (kind === "VirtualIP") this.changedVirtualIPs.add(`${obj.metadata?.namespace}/${obj.metadata?.name}`);
    if (kind === "Lease") this.livenessChanged = true;
  }

  node(name: string): RawObject {
    const d = this.dice;
    const i = NODES.indexOf(name);
    const addresses = [
      { type: "InternalIP", address: `192.0.2.${10 + i}` },
      ...(d.chance(0.6) ? [{ type: "InternalIP", address: `2001:db8::${10 + i}` }] : []),
    ];
    return {
      apiVersion: "v1",
      kind: "Node",
      metadata: this.meta({
        name,
        uid: `node-${++this.uid}`,
        labels: { zone: d.pick(["a", "b"]) },
        ...(d.chance(0.2) ? { annotations: { [ANNOTATION_DEFAULT_INTERFACE]: "eth1" } } : {}),
      }),
      ...(d.chance(0.1) ? { spec: { unschedulable: true } } : {}),
      status: { addresses },
    };
  }

  vipSpec(): Record<string, unknown> {
    const d = this.dice;
    const address = d.pick(ADDRESSES);
    const version = d.chance(0.15) ? 2 : 3;
    return {
      serviceRef: { name: d.pick(SERVICES) },
      ...(address !== undefined ? { address } : {}),
      ...(d.chance(0.7) ? { virtualRouterId: 1 + d.int(3) } : {}),
      forwarding: d.pick(["kube-proxy", "ipvs"]),
      ...(d.chance(0.2) ? { interface: d.pick(["bond0", "eth1"]) } : {}),
      ...(d.chance(0.4) ? { nodeSelector: { matchLabels: { zone: d.pick(["a", "b"]) } } } : {}),
      vrrp: {
        version,
        ...(d.chance(0.2) ? { advertisementInterval: d.chance(0.8) ? "2s" : "10ms" } : {}),
        ...(d.chance(0.2) ? { preempt: true } : {}),
        ...(d.chance(0.1) ? { unicast: false } : {}),
        ...(d.chance(0.2) ? { priorities: { [d.pick(NODES)]: 150 + d.int(50) } } : {}),
        ...(version === 2 && d.chance(0.5) ? { authSecretRef: { name: d.pick(["auth-a", "auth-b"]), key: "password" } } : {}),
      },
      ...(d.chance(0.1) ? { pool: d.pick(["test", "small", "missing"]) } : {}),
    };
  }

  /** A status as the operator or agents may have written it: allocation, claim, node states. */
  vipStatus(spec: Record<string, unknown>): Record<string, unknown> | undefined {
    const d = this.dice;
    if (d.chance(0.4)) return undefined;
    const address = (spec.address as string | undefined) ?? d.pick(["192.0.2.1", "192.0.2.100", "2001:db8::1"]);
    const id = (spec.virtualRouterId as number | undefined) ?? 1 + d.int(3);
    return {
      address,
      virtualRouterId: id,
      pool: "test",
      ...(d.chance(0.6)
        ? {
            claim: {
              address,
              virtualRouterId: id,
              generation: 1,
              time: "2026-03-01T11:00:00Z",
              ...(d.chance(0.3)
                ? { unusableSince: d.pick(["2026-03-01T11:56:00Z", "2026-03-01T11:57:30Z", "2026-03-01T11:58:00Z", "2026-03-01T11:00:00Z"]) }
                : {}),
            },
          }
        : {}),
      ...(d.chance(0.4) ? { nodes: [{ name: d.pick(NODES), state: d.pick(["MASTER", "BACKUP", "FAULT"]) }] } : {}),
    };
  }

  /** A Service's metadata and status after `manager` wrote its load-balancer ingress (or, at random, gave it up). */
  ingressWrittenBy(manager: string, svc: RawObject): { metadata: RawObject["metadata"]; status: Record<string, unknown> } {
    const d = this.dice;
    const ips = d.chance(0.2) ? [] : [d.pick(["192.0.2.100", "192.0.2.101", "2001:db8::100"])];
    const owned = ips.length > 0 ? [{ manager, operation: "Apply", fieldsV1: { "f:status": { "f:loadBalancer": { "f:ingress": {} } } } }] : [];
    return {
      metadata: this.meta({ ...(svc.metadata ?? {}), managedFields: owned }),
      status: ips.length > 0 ? { loadBalancer: { ingress: ips.map((ip) => ({ ip })) } } : {},
    };
  }

  /** A cluster to start from: the test pool, four Nodes, LoadBalancer Services, agent Leases. */
  setUp(): void {
    this.put("VirtualIPPool", {
      ...(testPoolObject() as RawObject),
      metadata: { name: "test", uid: "pool-test", generation: 1, creationTimestamp: "2020-01-01T00:00:00Z" },
    });
    for (const n of NODES.slice(0, 4)) this.put("Node", this.node(n));
    for (const ns of NAMESPACES)
      for (const name of SERVICES)
        this.put("Service", {
          apiVersion: "v1",
          kind: "Service",
          metadata: this.meta({ name, namespace: ns, uid: `svc-${++this.uid}` }),
          spec: { type: "LoadBalancer", ports: [{ name: "http", port: 80, protocol: "TCP" }] },
        });
    for (const n of NODES.slice(0, 4)) this.put("Lease", this.lease(n));
  }

  lease(node: string): RawObject {
    const d = this.dice;
    const annotations = {
      [ANNOTATION_DEFAULT_INTERFACE]: d.pick(["eth0", "eth1", "ens3"]),
      ...(d.chance(0.5) ? { [ANNOTATION_INTERFACES]: d.pick(["eth0,eth1", "eth0,bond0,eth1", "eth0"]) } : {}),
      ...(d.chance(0.3) ? { [ANNOTATION_HOST_ADDRESSES]: d.pick(["192.0.2.100", "198.51.100.9"]) } : {}),
    };
    return {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: this.meta({ name: agentLeaseName(node), namespace: PLAN_NS, annotations }),
      spec: { renewTime: "2026-03-01T11:59:59.000000Z", leaseDurationSeconds: 10 },
    };
  }

  /**
   * The operator's status writes: every VirtualIP the plan gave an address
   * and router id records them, with a claim at its generation (its next
   * pass keeps that allocation instead of choosing one).
   */
  confirm(plan: Omit<ClusterPlan, "instances">): void {
    for (const [key, entry] of Object.entries(plan.virtualIPs)) {
      const live = this.cache.get("VirtualIP", key);
      if (!live || entry.address === undefined || entry.virtualRouterId === undefined || live.metadata?.deletionTimestamp) continue;
      const claim = {
        address: entry.address,
        virtualRouterId: entry.virtualRouterId,
        generation: live.metadata?.generation ?? 1,
        time: "2026-03-01T11:30:00Z",
      };
      const status = {
        ...(live.status ?? {}),
        address: entry.address,
        virtualRouterId: entry.virtualRouterId,
        pool: entry.pool,
        ...(entry.claimed ? { claim } : {}),
      };
      this.put("VirtualIP", { ...live, status });
    }
  }

  /** One random change; in a quiet cluster, Nodes, Leases, pools and Namespaces seldom change. */
  step(quiet = false): void {
    const d = this.dice;
    const ns = d.pick(NAMESPACES);
    let op = d.int(100);
    if (quiet && op >= 62 && d.chance(0.9)) op = d.int(62);
    if (op < 40) {
      const name = `vip-${d.int(8)}`;
      const key = `${ns}/${name}`;
      const old = this.cache.get("VirtualIP", key);
      if (old && d.chance(0.15)) return this.remove("VirtualIP", key);
      if (old && d.chance(0.1)) return this.put("VirtualIP", { ...old, metadata: { ...old.metadata, deletionTimestamp: "2026-03-01T11:59:00Z" } });
      if (old && d.chance(0.3)) return this.put("VirtualIP", { ...old, status: this.vipStatus(old.spec as Record<string, unknown>) ?? {} });
      const spec = this.vipSpec();
      const generation = (old?.metadata?.generation ?? 0) + 1;
      const created = old?.metadata?.creationTimestamp ?? new Date(Date.UTC(2026, 0, 1, 0, d.int(60))).toISOString();
      const uid = old?.metadata?.uid ?? `vip-${++this.uid}`;
      const status = old?.status ?? this.vipStatus(spec);
      return this.put("VirtualIP", {
        apiVersion: API_VERSION,
        kind: KIND,
        metadata: this.meta({ name, namespace: ns, uid, generation, creationTimestamp: created }),
        spec,
        ...(status ? { status } : {}),
      });
    }
    if (op < 52) {
      const name = d.pick(SERVICES);
      if (d.chance(0.1)) return this.remove("Service", `${ns}/${name}`);
      const type = d.chance(0.85) ? "LoadBalancer" : "ClusterIP";
      const ports = d.chance(0.5)
        ? [{ name: "http", port: 80, protocol: "TCP" }]
        : [
            { name: "http", port: 80, protocol: "TCP" },
            { name: "dns", port: 53, protocol: "UDP" },
          ];
      const old = this.cache.get("Service", `${ns}/${name}`);
      // The operator's own ingress write (managedFields and status change, the spec does not), or another controller's.
      if (old && d.chance(0.3)) return this.put("Service", { ...old, ...this.ingressWrittenBy(d.chance(0.7) ? OPERATOR_FIELD_MANAGER : "other-lb", old) });
      return this.put("Service", {
        apiVersion: "v1",
        kind: "Service",
        metadata: this.meta({ name, namespace: ns, uid: `svc-${++this.uid}` }),
        spec: {
          type,
          ports,
          ...(d.chance(0.1) ? { externalTrafficPolicy: "Local" } : {}),
          ...(d.chance(0.1) ? { loadBalancerClass: "example.com/other" } : {}),
        },
      });
    }
    if (op < 62) {
      const svc = d.pick(SERVICES);
      const name = `${svc}-${d.int(2)}`;
      if (d.chance(0.2)) return this.remove("EndpointSlice", `${ns}/${name}`);
      const endpoints = Array.from({ length: d.int(3) }, (_, i) => ({
        addresses: [`198.51.100.${20 + d.int(5) + i}`],
        conditions: { ready: d.chance(0.8) },
        ...(d.chance(0.5) ? { nodeName: d.pick(NODES) } : {}),
      }));
      return this.put("EndpointSlice", {
        apiVersion: "discovery.k8s.io/v1",
        kind: "EndpointSlice",
        metadata: this.meta({ name, namespace: ns, labels: { "kubernetes.io/service-name": svc } }),
        addressType: "IPv4",
        ports: [
          { name: "http", port: 8080, protocol: "TCP" },
          { name: "dns", port: 5353, protocol: "UDP" },
        ],
        endpoints,
      });
    }
    if (op < 77) {
      const name = d.pick(NODES);
      if (this.cache.has("Node", name) && d.chance(0.25)) return this.remove("Node", name);
      return this.put("Node", this.node(name));
    }
    if (op < 90) {
      const node = d.pick(NODES);
      const key = `${PLAN_NS}/${agentLeaseName(node)}`;
      if (d.chance(0.2)) return this.remove("Lease", key);
      return this.put("Lease", this.lease(node));
    }
    if (op < 96) {
      const name = d.pick(["test", "small"]);
      if (d.chance(name === "test" ? 0.1 : 0.3)) return this.remove("VirtualIPPool", name);
      const base = testPoolObject(name) as RawObject;
      const spec =
        name === "test"
          ? { ...(base.spec as object), autoAssign: d.chance(0.8) }
          : {
              addresses: [d.pick(["192.0.2.100-192.0.2.101", "192.0.2.1/32"])],
              virtualRouterIds: [d.pick(["1-2", "3"])],
              autoAssign: true,
              ...(d.chance(0.5) ? { namespaceSelector: { matchLabels: { team: "a" } } } : {}),
            };
      return this.put("VirtualIPPool", {
        ...base,
        metadata: this.meta({
          name,
          uid: `pool-${name}`,
          generation: ++this.uid,
          creationTimestamp: name === "test" ? "2020-01-01T00:00:00Z" : "2021-01-01T00:00:00Z",
        }),
        spec,
      });
    }
    return this.put("Namespace", { apiVersion: "v1", kind: "Namespace", metadata: this.meta({ name: ns, labels: d.chance(0.5) ? { team: "a" } : {} }) });
  }
}

/** A desired Secret with what it was built from (as the reconciler keeps them). */
/** What a planning session publishes after one step. */
interface Published {
  plan: Omit<ClusterPlan, "instances">;
  secrets: ReadonlyMap<string, BuiltSecret>;
  statuses: Map<string, unknown>;
  /** The auth Secrets gathered VirtualIPs reference; Service ingress, referenced Services and interfaces, the next claim expiry (derived.ts); copied. */
  derived: unknown;
}

/** What the operator remembers across passes besides the planning caches: the same for both sessions compared. */
interface Memory {
  heartbeats: HeartbeatSightings;
  deletions: DeletionTracker;
}

/**
 * One operator's planning through the production steps: gather, renderPass
 * (desired.ts: render, Secrets reused by hash), the status-input index, and
 * planStatus (vipstatus.ts) for the marked VirtualIPs only (the rest kept
 * from before). A fresh session plans everything from scratch.
 */
class Session {
  private readonly parser = new VirtualIPParser();
  /** The long-lived session gathers incrementally (the cache's change log), as the reconciler does. */
  private readonly gatherer: VirtualIPGatherer | undefined;
  private readonly index = new StatusInputIndex();
  /** The long-lived session keeps its derivations up to date; a fresh one derives everything. */
  private readonly derivations: VirtualIPDerivations | undefined;
  private secrets: ReadonlyMap<string, BuiltSecret> = new Map();
  private readonly statuses = new Map<string, unknown>();

  private render: RenderState | undefined;
  private readonly renderer: Renderer;

  constructor(
    private readonly memory: Memory,
    private readonly session?: PlanSession,
  ) {
    this.renderer = session ? sessionRenderer(session) : renderInline;
    this.gatherer = session ? new VirtualIPGatherer(this.parser) : undefined;
    this.derivations = session ? new VirtualIPDerivations() : undefined;
  }

  async plan(cache: ObjectCache, marked: DirtyStatuses): Promise<Published> {
    const gathered = this.gatherer ? this.gatherer.gather(cache) : gatherVirtualIPs(cache.entries("VirtualIP"), this.parser);
    const desired = await renderPass({
      cache,
      gathered,
      authSecrets: [],
      planNamespace: PLAN_NS,
      options: { claimGraceMs: 5 * 60_000 },
      render: this.renderer,
      previousSecrets: this.secrets,
      previousRefused: leftOutAsTooLarge(this.render),
      ...(this.session ? { lastPass: () => (this.session as PlanSession).last } : {}),
      ...(this.derivations ? { derivations: this.derivations } : {}),
      now: NOW,
    });
    this.secrets = desired.secrets;
    const render = desired.render as RenderState;
    // As the reconciler does: the previous render's plan is read no more.
    if (this.render && this.render.plan.virtualIPs !== render.plan.virtualIPs) this.session?.release(this.render.plan);
    this.render = render;
    this.memory.deletions.noteParticipants(render.plan.virtualIPs);
    const dirty = unionDirty(marked, this.index.changed(render, gathered.deleting, desired.touched === "all" ? undefined : desired.touched));
    const ctx: StatusContext = {
      cache,
      planNamespace: PLAN_NS,
      deletionTimeoutMs: 5 * 60_000,
      render,
      parser: this.parser,
      heartbeats: this.memory.heartbeats,
      deletions: this.memory.deletions,
      holders: new Map(),
    };
    for (const key of this.statuses.keys()) if (!cache.has("VirtualIP", key)) this.statuses.delete(key);
    for (const [key, obj] of cache.entries("VirtualIP")) {
      if (dirty !== "all" && !dirty.has(key)) continue;
      const sp = planStatus(ctx, key, obj, NOW);
      this.statuses.set(key, { summary: sp.summary, nodeWrites: sp.nodeWrites, readyReason: sp.readyReason, changed: sp.changed });
    }
    const { instances: _i, ...rest } = render.plan;
    const derived = {
      authSecretRefs: new Set(gathered.authSecretRefs),
      ingress: new Map(desired.ingress),
      claimExpiresAt: desired.claimExpiresAt,
      referencedServices: new Set(desired.referencedServices),
      referencedInterfaces: new Set(desired.referencedInterfaces),
    };
    return { plan: rest, secrets: this.secrets, statuses: new Map(this.statuses), derived };
  }
}

/** Steps (bursts of changes, each followed by a pass) per sequence. */
const STEPS = 12;

/** How much of the planner a run exercised (a run that renders nothing proves nothing). */
const fullReasons: Record<string, number> = {};
const coverage = { steps: 0, withInstances: 0, activeStatuses: 0, partialMarks: 0, incrementalRenders: 0 };

/** Runs one random sequence; returns a failure description, or undefined. */
async function runSequence(seed: number, steps: number): Promise<string | undefined> {
  const dice = new Dice(prng(seed));
  const world = new World(dice);
  world.setUp();
  const memory: Memory = { heartbeats: new HeartbeatSightings(), deletions: new DeletionTracker() };
  const renderer = new PlanSession();
  // Half the sequences are a quiet cluster where mostly VirtualIPs and Services change (most renders re-plan only those).
  const quiet = dice.chance(0.5);
  const incremental = new Session(memory, renderer);
  for (let step = 0; step < steps; step++) {
    // Several changes between passes, as a debounced burst.
    for (let k = 1 + dice.int(3); k > 0; k--) world.step(quiet);
    const marked: DirtyStatuses = world.livenessChanged ? "all" : new Set(world.changedVirtualIPs);
    world.changedVirtualIPs = new Set();
    world.livenessChanged = false;
    const got = await incremental.plan(world.cache, marked);
    if (renderer.last.kind === "incremental") coverage.incrementalRenders++;
    else fullReasons[renderer.last.reason ?? ""] = (fullReasons[renderer.last.reason ?? ""] ?? 0) + 1;
    const want = await new Session(memory).plan(world.cache, "all");
    coverage.steps++;
    if (Object.values(want.plan.virtualIPs).some((v) => v.instance !== undefined)) coverage.withInstances++;
    coverage.activeStatuses += [...want.statuses.values()].filter(
      (s) => (s as { readyReason: string }).readyReason === "Active" || (s as { readyReason: string }).readyReason === "NoMaster",
    ).length;
    if (marked !== "all") coverage.partialMarks++;
    try {
      assert.deepEqual(got.plan, want.plan, "plan");
      assert.deepEqual(got.secrets, want.secrets, "Secrets");
      assert.deepEqual(got.statuses, want.statuses, "statuses");
      assert.deepEqual(got.derived, want.derived, "ingress, referenced Services and interfaces, claim expiry");
    } catch (err) {
      return `seed ${seed}, step ${step}: ${(err as Error).message.slice(0, 2000)}`;
    }
    if (dice.chance(0.5)) world.confirm(want.plan);
  }
  return undefined;
}

void describe("incremental planning", () => {
  void test("publishes what a full re-plan publishes after every step of random change sequences", async () => {
    const fixed = process.env.PLANNER_SEED;
    const runs = fixed !== undefined ? 1 : Number(process.env.PLANNER_RUNS ?? 1000);
    const base = fixed !== undefined ? Number(fixed) : Math.floor(Math.random() * 2 ** 31);
    let steps = 0;
    for (let r = 0; r < runs; r++) {
      const seed = (base + r * 7919) >>> 0;
      const failure = await runSequence(seed, STEPS);
      steps += STEPS;
      if (failure !== undefined) assert.fail(`${failure}\nreplay: PLANNER_SEED=${seed} node scripts/run-tests.mjs test/unit/operator/planner.property.test.ts`);
    }
    assert.ok(steps >= STEPS);
    // The sequences must reach the interesting states: rendered instances, usable VirtualIPs, passes that skip statuses.
    process.stdout.write(`# DBG ${JSON.stringify((globalThis as unknown as { DBG?: unknown }).DBG)}\n`);
    process.stdout.write(`# planner property: ${JSON.stringify({ seed: base, runs, ...coverage, fullReasons })}\n`);
    assert.ok(coverage.withInstances > coverage.steps / 3, `too few steps render an instance: ${JSON.stringify(coverage)}`);
    assert.ok(coverage.activeStatuses > coverage.steps / 3, `too few usable VirtualIPs: ${JSON.stringify(coverage)}`);
    assert.ok(coverage.partialMarks > coverage.steps / 3, `too few passes plan only some statuses: ${JSON.stringify(coverage)}`);
    assert.ok(coverage.incrementalRenders > coverage.steps / 4, `too few renders re-plan only what changed: ${JSON.stringify(coverage)}`);
  });
});
