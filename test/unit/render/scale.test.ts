// The renderer at scale: the configs assembled from a large view's published
// plan are the same bytes as before instance text was shared across nodes
// (and before the plan was split into published instances and nodes), the
// same as rendering each node on its own, in any input order; the config
// shape check agrees with a plain line-by-line reference.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { assertConfigShape, nodeInternalIP, planCluster, planVirtualServers, renderKeepalivedConf, renderNodeConfigs } from "../../../src/render/index.js";
import type { ClusterView, RenderedNodeConfig, KeepalivedInstance, VirtualServer, VrrpInstance } from "../../../src/render/index.js";
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

/** One node's instance as renderKeepalivedConf takes it, built from the plan's cluster-wide instance. */
function instanceOn(view: ClusterView, inst: VrrpInstance, nodeName: string): KeepalivedInstance {
  const address = (name: string): string | undefined => {
    const n = view.nodes.find((x) => x.metadata?.name === name);
    return n ? nodeInternalIP(n, inst.family) : undefined;
  };
  const source = address(nodeName);
  const primary = inst.primaryAddress ?? "";
  return {
    name: inst.name,
    interface: inst.interfaces[nodeName] ?? "",
    virtualRouterId: inst.virtualRouterId,
    family: inst.family,
    priority: inst.priorities[nodeName] ?? 0,
    version: inst.version,
    advertIntervalMs: inst.advertIntervalMs,
    preempt: inst.preempt,
    ...(inst.unicast && source !== undefined
      ? { unicast: { sourceIP: source, peers: inst.nodes.filter((n) => n !== nodeName).flatMap((n) => address(n) ?? []) } }
      : {}),
    ...(inst.version === 2 ? { authPassword: SCALE_PASSWORD } : {}),
    primaryAddress: primary,
    excludedAddresses: inst.addresses.filter((a) => a !== primary),
    virtualIPs: inst.virtualIPs,
  };
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
    assert.ok(configs.every((n) => n.config.includes("virtual_server ")), "a node without virtual_server");
    assert.ok(configs.every((n) => n.config.includes("auth_pass ")), "a node without authentication");
    assert.ok(configs.some((n) => /vrrp_instance vip_6_/.test(n.config)), "no IPv6 instance");
  });

  void test("configs are byte-identical to those of the renderer that rendered each node anew", () => {
    assert.equal(configsDigest(configs), SCALE_CONFIGS_SHA256);
  });

  void test("every node's config equals rendering that node on its own", () => {
    for (const n of configs) {
      const mine = plan.instances.filter((i) => i.nodes.includes(n.node));
      const alone = renderKeepalivedConf({
        node: n.node,
        runtimeDir: "/run/keepalived-vip",
        instances: mine.map((i) => instanceOn(view, i, n.node)),
        virtualServers: mine.flatMap((i) => virtualServersOf(view, i)),
      });
      assert.equal(n.config, alone, `node ${n.node}`);
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
