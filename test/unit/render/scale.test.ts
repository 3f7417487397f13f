// The renderer at scale: the configs assembled from a large view's published
// plan are the same bytes as before instance text was shared across nodes
// (and before the plan was split into published instances and nodes), the
// same as rendering each node on its own, in any input order; the config
// shape check agrees with a plain line-by-line reference.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { assembleNodeConfig, assertConfigShape, nodeInternalIP, planCluster, planVirtualServers, renderNodeConfigs } from "../../../src/render/index.js";
import type { ClusterView, RenderedNodeConfig, VirtualServer, VrrpInstance } from "../../../src/render/index.js";
import type { NodeInstanceEntry, PublishedInstance } from "../../../src/api/index.js";
import { SCALE_PASSWORD, scaleView } from "./scale-view.js";

/**
 * sha256 of every node's name and config of scaleView(), taken from the
 * renderer that rendered every node's text anew (before this optimization).
 * Change it only together with an intended change of the output (last: ranked
 * default priorities, ADR 0014, and the track_file blocks of ADR 0018).
 */
const SCALE_CONFIGS_SHA256 = "ded41241539cad9c645550e199e5cfea3fdbaa731656aa27bf6baa1488981e0c";

function configsDigest(configs: RenderedNodeConfig[]): string {
  const h = createHash("sha256");
  for (const n of configs) h.update(`${n.node}\0${n.config}\0`);
  return h.digest("hex");
}

/** Deterministic generator (mulberry32), so a failure can be replayed. */
function random(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffled<T>(items: T[], rand: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/**
 * One node's part of an instance, published by hand from the plan's
 * cluster-wide instance (not through the planner's publishing step): the
 * shared instance.json and the node's own entry, as the agent receives them.
 */
function publishedOn(
  view: ClusterView,
  inst: VrrpInstance,
  nodeName: string,
  servers: VirtualServer[],
): { shared: PublishedInstance; entry: NodeInstanceEntry } {
  const address = (name: string): string | undefined => {
    const n = view.nodes.find((x) => x.metadata?.name === name);
    return n ? nodeInternalIP(n, inst.family) : undefined;
  };
  const source = address(nodeName);
  const primary = inst.primaryAddress ?? "";
  const shared: PublishedInstance = {
    name: inst.name,
    virtualRouterId: inst.virtualRouterId,
    family: inst.family,
    version: inst.version,
    advertIntervalMs: inst.advertIntervalMs,
    preempt: inst.preempt,
    unicast: inst.unicast,
    // Every node's address but this one's, in reverse: the renderer sorts and drops the node's own.
    peers: inst.nodes
      .filter((n) => n !== nodeName)
      .flatMap((n) => address(n) ?? [])
      .reverse(),
    ...(inst.version === 2 ? { authPassword: SCALE_PASSWORD } : {}),
    primaryAddress: primary,
    excludedAddresses: inst.addresses.filter((a) => a !== primary),
    virtualIPs: inst.virtualIPs,
    virtualServers: servers,
  };
  const entry: NodeInstanceEntry = {
    instance: inst.name,
    interface: inst.interfaces[nodeName] ?? "",
    priority: inst.priorities[nodeName] ?? 0,
    ...(inst.unicast && source !== undefined ? { sourceIP: source } : {}),
  };
  return { shared, entry };
}

function virtualServersOf(view: ClusterView, inst: VrrpInstance): VirtualServer[] {
  return inst.virtualIPs.flatMap((key) => {
    const vip = view.virtualIPs.find((v) => `${v.metadata.namespace}/${v.metadata.name}` === key);
    if (!vip || vip.spec.forwarding !== "ipvs") return [];
    const service = view.services.find((s) => s.metadata?.namespace === vip.metadata.namespace && s.metadata?.name === vip.spec.serviceRef.name);
    return service ? planVirtualServers({ vip, address: vip.spec.address ?? "", service, endpointSlices: view.endpointSlices }) : [];
  });
}

void describe("planCluster at 200 VirtualIPs x 20 Nodes", () => {
  const view = scaleView();
  const plan = planCluster(view);
  const configs = renderNodeConfigs(plan);

  void test("the view exercises what it should: instances, ipvs, auth, no problems", () => {
    assert.equal(plan.instances.length, 50);
    assert.equal(plan.published.length, 50);
    assert.equal(configs.length, 20);
    assert.deepEqual(plan.problems, []);
    assert.ok(
      configs.every((n) => n.config.includes("virtual_server ")),
      "a node without virtual_server",
    );
    assert.ok(
      configs.every((n) => n.config.includes("auth_pass ")),
      "a node without authentication",
    );
    assert.ok(
      configs.some((n) => /vrrp_instance vip_6_/.test(n.config)),
      "no IPv6 instance",
    );
  });

  void test("configs are byte-identical to those of the renderer that rendered each node anew", () => {
    assert.equal(configsDigest(configs), SCALE_CONFIGS_SHA256);
  });

  void test("every node's config equals assembling that node on its own, from instances published by hand", () => {
    for (const n of configs) {
      const mine = plan.instances.filter((i) => i.nodes.includes(n.node)).map((i) => publishedOn(view, i, n.node, virtualServersOf(view, i)));
      // No shared templates or server texts: every piece is rendered anew for this node.
      const alone = assembleNodeConfig(
        { node: n.node, runtimeDir: "/run/keepalived-vip", instances: mine.map((m) => m.entry) },
        new Map(mine.map((m) => [m.shared.name, m.shared])),
      );
      assert.ok(alone.ok, `node ${n.node}: ${alone.ok ? "" : alone.problem}`);
      assert.equal(n.config, alone.value.config, `node ${n.node}`);
    }
  });

  void test("shuffled input gives identical bytes", () => {
    const want = JSON.stringify(plan);
    for (let seed = 1; seed <= 3; seed++) {
      const rand = random(seed);
      const mixed: ClusterView = {
        virtualIPs: shuffled(view.virtualIPs, rand),
        nodes: shuffled(view.nodes, rand),
        services: shuffled(view.services, rand),
        endpointSlices: shuffled(view.endpointSlices, rand).map((s) => ({ ...s, endpoints: shuffled(s.endpoints ?? [], rand) })),
        secrets: shuffled(view.secrets, rand),
        nodeInterfaces: view.nodeInterfaces,
        pools: view.pools,
      };
      const mixedPlan = planCluster(mixed);
      assert.equal(JSON.stringify(mixedPlan), want, `seed ${seed}`);
      assert.equal(configsDigest(renderNodeConfigs(mixedPlan)), SCALE_CONFIGS_SHA256, `seed ${seed}`);
    }
  });
});

/** The config shape check as plainly as it can be written: one regex per line, then the braces. */
function referenceShapeOk(text: string): boolean {
  const line = /^(?: {4})*(?:# [\x20-\x7e]*|\}|[^\s{}#!"'$\\]+(?: [^\s{}#!"'$\\]+)*(?: \{)?)$/;
  let depth = 0;
  for (const l of text.split("\n")) {
    if (l === "") continue;
    if (!line.test(l) || /[^\x20-\x7e]/.test(l)) return false;
    if (l.trimStart().startsWith("#")) continue;
    if (l.endsWith("{")) depth++;
    if (l.trim() === "}") depth--;
    if (depth < 0) return false;
  }
  return depth === 0;
}

void describe("assertConfigShape", () => {
  const pieces = ["    ", "a", "b1", " ", "{", "}", "\n", "# ", "#", "\t", "\r", "\u00e4", "\u2028", '"', "x {", "\n}", "\n    y", "\n\n", "$"];
  void test("accepts exactly the texts a line-by-line check accepts (5,000 random texts)", () => {
    const rand = random(42);
    let accepted = 0;
    for (let i = 0; i < 5000; i++) {
      const text = Array.from({ length: 1 + Math.floor(rand() * 12) }, () => pieces[Math.floor(rand() * pieces.length)] ?? "").join("");
      const want = referenceShapeOk(text);
      let got = true;
      try {
        assertConfigShape(text);
      } catch {
        got = false;
      }
      assert.equal(got, want, JSON.stringify(text));
      if (got) accepted++;
    }
    assert.ok(accepted > 100, `only ${accepted} random texts were well-formed: the test proves little`);
  });
});
