// Tests of the agent's view of the published plan: which Secret changes matter
// to the node, and the decision on the plan as it stands (apply, wait while
// the plan is between two writes, refuse what cannot be read or rendered).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { PublishedPlanView, type PlanDecision, type PlanSecret } from "../../../src/agent/published.js";
import {
  ANNOTATION_INSTANCE,
  SECRET_KEY_INSTANCE,
  SECRET_KEY_NODE,
  instanceSecretName,
  nodeConfigSecretName,
  type NodeInstanceMap,
  type PublishedInstance,
  type PublishedNode,
} from "../../../src/api/index.js";
import { assembleNodeConfig, sha256Hex } from "../../../src/render/index.js";
import { publishedInstance } from "./instances.js";

const NODE = "node-a";
const b64 = (s: string): string => Buffer.from(s, "utf8").toString("base64");

const instance = (name: string, vrid: number, address: string, over: Partial<PublishedInstance> = {}): PublishedInstance =>
  publishedInstance(name, vrid, address, { version: 2, ...over });

const WEB = instance("vip_4_51", 51, "192.0.2.50");
const DB = instance("vip_4_52", 52, "192.0.2.60");

function nodeOf(instances: string[], node = NODE): PublishedNode {
  return {
    node,
    runtimeDir: "/run/keepalived-vip",
    instances: instances.map((i) => ({ instance: i, interface: "eth0", priority: 100, sourceIP: "192.0.2.11" })),
  };
}

function nodeSecret(published: PublishedNode | string): PlanSecret {
  const json = typeof published === "string" ? published : JSON.stringify(published);
  return { name: nodeConfigSecretName(NODE), data: { [SECRET_KEY_NODE]: b64(json) } };
}

function instanceSecret(inst: PublishedInstance | string, key = typeof inst === "string" ? "" : inst.name, carries: string | undefined = key): PlanSecret {
  const json = typeof inst === "string" ? inst : JSON.stringify(inst);
  return { name: instanceSecretName(key), data: { [SECRET_KEY_INSTANCE]: b64(json) }, ...(carries ? { annotations: { [ANNOTATION_INSTANCE]: carries } } : {}) };
}

/** A view that has seen both lists. */
function viewWith(node: PublishedNode | string | undefined, instances: PlanSecret[]): PublishedPlanView {
  const v = new PublishedPlanView(NODE);
  v.setNode(node === undefined ? undefined : nodeSecret(node));
  v.replaceInstances(instances);
  return v;
}

function applied(d: PlanDecision): Extract<PlanDecision, { kind: "apply" }>["candidate"] {
  if (d.kind !== "apply") assert.fail(`${d.kind}: ${d.problem}`);
  return d.candidate;
}

void describe("PublishedPlanView: apply", () => {
  void test("a complete plan assembles to exactly what assembleNodeConfig renders, with its hash and instance map", () => {
    const node = nodeOf([WEB.name, DB.name]);
    const c = applied(viewWith(node, [instanceSecret(WEB), instanceSecret(DB)]).decide());
    const want = assembleNodeConfig(
      node,
      new Map([
        [WEB.name, WEB],
        [DB.name, DB],
      ]),
    );
    assert.ok(want.ok);
    assert.equal(c.config, want.value.config);
    assert.equal(c.hash, sha256Hex(c.config));
    assert.deepEqual(
      c.instances.instances.map((i) => [i.instance, i.addresses, i.virtualIPs]),
      [
        ["vip_4_51", ["192.0.2.50"], ["default/vip_4_51"]],
        ["vip_4_52", ["192.0.2.60"], ["default/vip_4_52"]],
      ],
    );
    assert.match(c.config, /vrrp_instance vip_4_51 \{/);
  });

  void test("a node that names no instance gets global_defs only", () => {
    const c = applied(viewWith(nodeOf([]), []).decide());
    assert.doesNotMatch(c.config, /vrrp_instance/);
    assert.deepEqual(c.instances, { node: NODE, instances: [] });
  });

  void test("an instance keyed apart from its vrrp_instance name is found by its key's Secret", () => {
    const key = `${WEB.name}#0123456789abcdef`;
    const c = applied(viewWith(nodeOf([key]), [instanceSecret(WEB, key)]).decide());
    assert.match(c.config, /vrrp_instance vip_4_51 \{/);
  });

  void test("an instance Secret without the annotation is taken by its name", () => {
    applied(viewWith(nodeOf([WEB.name]), [instanceSecret(WEB, WEB.name, "")]).decide());
  });
});

void describe("PublishedPlanView: wait", () => {
  void test("nothing is decided before both lists came", () => {
    const v = new PublishedPlanView(NODE);
    assert.equal(v.synced, false);
    assert.equal(v.setNode(nodeSecret(nodeOf([]))), true);
    assert.equal(v.synced, false);
    assert.equal(v.decide().kind, "wait");
    assert.equal(v.replaceInstances([]), true, "the first list always counts");
    assert.equal(v.synced, true);
    assert.equal(v.decide().kind, "apply");
  });

  void test("no node Secret: wait, naming it", () => {
    const d = viewWith(undefined, [instanceSecret(WEB)]).decide();
    assert.equal(d.kind, "wait");
    assert.match(d.kind === "wait" ? d.problem : "", new RegExp(`node Secret ${nodeConfigSecretName(NODE)} not found`));
  });

  void test("the node Secret before its instance Secret: wait for it, then apply when it comes", () => {
    const v = viewWith(nodeOf([WEB.name, DB.name]), [instanceSecret(WEB)]);
    const d = v.decide();
    assert.deepEqual(d.kind === "wait" ? d.missing : d, [DB.name]);
    assert.match(d.kind === "wait" ? d.problem : "", new RegExp(instanceSecretName(DB.name)));
    assert.equal(v.putInstance(instanceSecret(DB)), true);
    applied(v.decide());
  });

  void test("an address in two instances while it moves: wait with nothing missing", () => {
    const moved = instance(DB.name, 52, "192.0.2.60", { excludedAddresses: ["192.0.2.50"] });
    const d = viewWith(nodeOf([WEB.name, DB.name]), [instanceSecret(WEB), instanceSecret(moved)]).decide();
    assert.equal(d.kind, "wait");
    assert.deepEqual(d.kind === "wait" ? d.missing : undefined, []);
    assert.match(d.kind === "wait" ? d.problem : "", /192\.0\.2\.50 is in instances/);
  });

  void test("an instance Secret deleted while the node names it: wait", () => {
    const v = viewWith(nodeOf([WEB.name]), [instanceSecret(WEB)]);
    applied(v.decide());
    assert.equal(v.deleteInstance(instanceSecretName(WEB.name)), true);
    assert.equal(v.decide().kind, "wait");
  });

  void test("a relist that no longer shows an instance drops it", () => {
    const v = viewWith(nodeOf([WEB.name]), [instanceSecret(WEB), instanceSecret(DB)]);
    assert.equal(v.replaceInstances([instanceSecret(DB)]), true);
    assert.deepEqual(v.decide().kind === "wait" ? "wait" : "other", "wait");
  });
});

void describe("PublishedPlanView: which changes matter", () => {
  void test("only Secrets of instances the node names, and only new bytes", () => {
    const v = viewWith(nodeOf([WEB.name]), [instanceSecret(WEB), instanceSecret(DB)]);
    assert.equal(v.putInstance(instanceSecret(WEB)), false, "same bytes");
    assert.equal(v.putInstance(instanceSecret(instance(WEB.name, 51, "192.0.2.55"))), true, "new address");
    assert.equal(v.putInstance(instanceSecret(instance(DB.name, 52, "192.0.2.65"))), false, "an instance the node does not name");
    assert.equal(v.deleteInstance(instanceSecretName(DB.name)), false);
    assert.equal(v.deleteInstance("no-such-secret"), false);
    assert.equal(v.replaceInstances([instanceSecret(instance(WEB.name, 51, "192.0.2.55"))]), false, "a relist with the same content");
    assert.equal(v.setNode(nodeSecret(nodeOf([WEB.name]))), false, "same node bytes");
    assert.equal(v.setNode(nodeSecret(nodeOf([WEB.name, DB.name]))), true);
    assert.equal(v.putInstance(instanceSecret(DB)), true, "now named");
    assert.equal(v.setNode(undefined), true);
    assert.equal(v.setNode(undefined), false);
  });

  void test("an address change in one instance Secret alone changes the config", () => {
    const v = viewWith(nodeOf([WEB.name]), [instanceSecret(WEB)]);
    const before = applied(v.decide());
    v.putInstance(instanceSecret(instance(WEB.name, 51, "192.0.2.55")));
    const after = applied(v.decide());
    assert.notEqual(after.hash, before.hash);
    assert.match(after.config, /192\.0\.2\.55/);
    assert.doesNotMatch(after.config, /192\.0\.2\.50/);
  });
});

void describe("PublishedPlanView: refuse", () => {
  const APPLIED: NodeInstanceMap = {
    node: NODE,
    instances: [
      { instance: DB.name, virtualRouterId: 52, interface: "eth0", family: 4, priority: 100, addresses: ["192.0.2.60"], virtualIPs: ["default/db-as-applied"] },
    ],
  };

  void test("an unparsable instance Secret the node names: refused, naming the Secret, never a value", () => {
    const v = viewWith(nodeOf([WEB.name, DB.name]), [instanceSecret(WEB), instanceSecret('{"name":"vip_4_52","authPassword":"hunter2"', DB.name)]);
    const d = v.decide(APPLIED);
    assert.equal(d.kind, "refuse");
    if (d.kind !== "refuse") return;
    assert.match(d.problem, new RegExp(`instance vip_4_52: Secret ${instanceSecretName(DB.name)}: instance\\.json is not valid JSON`));
    assert.doesNotMatch(d.problem, /hunter2/);
    assert.deepEqual(d.virtualIPs, ["default/db-as-applied", "default/vip_4_51"], "the named instances' VirtualIPs, the broken one's as applied");
  });

  void test("an instance Secret of the wrong shape names the field", () => {
    const bad = JSON.stringify({ ...DB, virtualRouterId: 300, authPassword: "hunter2" });
    const d = viewWith(nodeOf([DB.name]), [instanceSecret(bad, DB.name)]).decide();
    assert.equal(d.kind, "refuse");
    assert.match(d.kind === "refuse" ? d.problem : "", /instance\.json\.virtualRouterId/);
    assert.doesNotMatch(d.kind === "refuse" ? d.problem : "", /hunter2|300/);
  });

  void test("an unparsable instance Secret the node does not name changes nothing", () => {
    const v = viewWith(nodeOf([WEB.name]), [instanceSecret(WEB)]);
    assert.equal(v.putInstance(instanceSecret("{nope", DB.name)), false);
    applied(v.decide());
  });

  void test("an instance Secret that says it carries another instance is refused", () => {
    const d = viewWith(nodeOf([WEB.name]), [instanceSecret(WEB, WEB.name, "vip_4_99")]).decide();
    assert.equal(d.kind, "refuse");
    assert.match(d.kind === "refuse" ? d.problem : "", /carries instance vip_4_99/);
  });

  void test("a value that is not safe to render is refused, with every named instance's VirtualIPs", () => {
    const evil = instance(WEB.name, 51, "192.0.2.50", { peers: ["192.0.2.12", "192.0.2.13\n}\nvrrp_script x {"] });
    const d = viewWith(nodeOf([WEB.name, DB.name]), [instanceSecret(evil), instanceSecret(DB)]).decide();
    assert.equal(d.kind, "refuse");
    if (d.kind !== "refuse") return;
    assert.deepEqual(d.virtualIPs, ["default/vip_4_51", "default/vip_4_52"]);
    assert.match(d.problem, new RegExp(`^Secret ${instanceSecretName(WEB.name)} \\(instance vip_4_51\\): Refusing to render`));
    assert.doesNotMatch(d.problem, /vip_4_52/, "only the culprit is named");
  });

  void test("an unsafe value of the node's own is refused naming the node Secret", () => {
    const node = { ...nodeOf([WEB.name]), runtimeDir: "/run/x y" };
    const d = viewWith(node, [instanceSecret(WEB)]).decide();
    assert.equal(d.kind, "refuse");
    assert.match(d.kind === "refuse" ? d.problem : "", new RegExp(`^Secret ${nodeConfigSecretName(NODE)}: Refusing to render runtime directory`));
  });

  void test("one vrrp_instance named twice is refused (never rendered twice)", () => {
    const key = `${WEB.name}#0123456789abcdef`;
    const d = viewWith(nodeOf([WEB.name, key]), [instanceSecret(WEB), instanceSecret(WEB, key)]).decide();
    assert.equal(d.kind, "refuse");
    assert.match(d.kind === "refuse" ? d.problem : "", /names vrrp_instance vip_4_51 twice/);
  });

  const badNodes: Array<[string, PlanSecret, RegExp]> = [
    ["no node.json key", { name: nodeConfigSecretName(NODE), data: {} }, /has no node\.json key/],
    ["node.json not JSON", nodeSecret("{secret"), /node\.json is not valid JSON/],
    [
      "node.json of the wrong shape",
      nodeSecret(JSON.stringify({ node: NODE, runtimeDir: "/run/x", instances: [{ instance: "" }] })),
      /node\.json\.instances\.0\.instance/,
    ],
    ["another node's node.json", nodeSecret(nodeOf([], "node-b")), /node\.json is for node "node-b", not "node-a"/],
  ];
  for (const [name, secret, want] of badNodes) {
    void test(`refuses ${name}, naming the Secret`, () => {
      const v = new PublishedPlanView(NODE);
      v.setNode(secret);
      v.replaceInstances([]);
      const d = v.decide();
      assert.equal(d.kind, "refuse");
      if (d.kind !== "refuse") return;
      assert.match(d.problem, want);
      assert.match(d.problem, new RegExp(`^Secret ${nodeConfigSecretName(NODE)}`));
      assert.doesNotMatch(d.problem, /secret\b/);
    });
  }
});
