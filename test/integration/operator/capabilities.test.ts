// The operator's up-front checks and the agents' refusals against a real API
// server (ADR 0016): agents publish their interfaces and IPVS on their Leases;
// a VirtualIP naming an interface no node has, or ipvs forwarding where no
// node has IPVS, is refused on its own while one created afterwards on the
// same nodes goes in; a node's configRejected entry turns into
// Ready=False ConfigRejected on that VirtualIP alone.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { ANNOTATION_INTERFACES, ANNOTATION_IPVS, agentFieldManager, GROUP, PLURAL, VERSION } from "../../../src/api/index.js";
import * as k8s from "@kubernetes/client-node";
import {
  APP_NS,
  conditionOf,
  createNode,
  createService,
  createVip,
  eventsFor,
  eventually,
  readNodeConfig,
  readVip,
  renewAgentLease,
  runOperator,
  startOperatorEnv,
  vipsInConfig,
  type OperatorEnv,
  type OperatorProcess,
  type StoredVip,
} from "./harness.js";

const NODES = [
  ["node-a", "192.0.2.11"],
  ["node-b", "192.0.2.12"],
] as const;
const FACTS = { [ANNOTATION_INTERFACES]: "eth0,eth1,lo", [ANNOTATION_IPVS]: "false" };

let env: OperatorEnv;
let op: OperatorProcess;
let heartbeat: NodeJS.Timeout | undefined;

function waitForReady(name: string, reason: string, timeoutMs = 30_000): Promise<StoredVip> {
  return eventually(
    async () => {
      const v = await readVip(env, name);
      return v && v.status?.observedGeneration === v.metadata.generation && conditionOf(v, "Ready")?.reason === reason ? v : undefined;
    },
    { timeoutMs, what: `VirtualIP ${name} Ready reason ${reason}` },
  );
}

before(async () => {
  env = await startOperatorEnv();
  const renew = async (): Promise<void> => {
    for (const [n] of NODES) await renewAgentLease(env, n, { durationSeconds: 10, iface: "eth0", annotations: FACTS });
  };
  for (const [name, ip] of NODES) await createNode(env, name, { ip });
  await renew();
  heartbeat = setInterval(() => void renew().catch(() => undefined), 2000);
  for (const s of ["web", "bad", "later", "lb"]) await createService(env, s);
  await createVip(env, "web", { service: "web", address: "192.0.2.50", virtualRouterId: 51 });
  op = await runOperator(env, { identity: "op-1" });
  await waitForReady("web", "NoMaster");
});

after(async () => {
  if (heartbeat) clearInterval(heartbeat);
  await op?.stop();
  await env?.cp.stop();
});

void describe("refusals from what the agents publish", () => {
  void test("an interface no node has: InterfaceNotFound naming the VirtualIP and spec.interface; web untouched", async () => {
    await createVip(env, "bad", { service: "bad", address: "192.0.2.51", virtualRouterId: 52, interface: "eth9" });
    const v = await waitForReady("bad", "InterfaceNotFound");
    assert.equal(conditionOf(v, "Ready")?.status, "False");
    assert.match(
      conditionOf(v, "Ready")?.message ?? "",
      /^VirtualIP default\/bad: spec\.interface: interface eth9 is on none of the selected nodes that published their interfaces \(node-a, node-b\)/,
    );
    await eventually(async () => (await eventsFor(env, "bad")).some((e) => e.type === "Warning" && e.reason === "InterfaceNotFound"), {
      what: "an InterfaceNotFound Event",
    });
    for (const [n] of NODES) assert.deepEqual(vipsInConfig(await readNodeConfig(env, n)), ["default/web"], `${n}: only web is published`);
    assert.equal(conditionOf(await readVip(env, "web"), "Ready")?.reason, "NoMaster");
  });

  void test("a VirtualIP created afterwards on the same nodes goes in; an interface the nodes have is fine", async () => {
    await createVip(env, "later", { service: "later", address: "192.0.2.52", virtualRouterId: 53, interface: "eth1" });
    await waitForReady("later", "NoMaster");
    await eventually(
      async () => {
        const cfgs = await Promise.all(NODES.map(([n]) => readNodeConfig(env, n)));
        return cfgs.every((c) => vipsInConfig(c).join() === "default/later,default/web");
      },
      { what: "later in every node config" },
    );
    assert.equal(conditionOf(await readVip(env, "bad"), "Ready")?.reason, "InterfaceNotFound");
  });

  void test("ipvs forwarding where no node has IPVS: IPVSUnavailable naming spec.forwarding", async () => {
    await createVip(env, "lb", { service: "lb", address: "192.0.2.53", virtualRouterId: 54, forwarding: "ipvs" });
    const v = await waitForReady("lb", "IPVSUnavailable");
    assert.match(conditionOf(v, "Ready")?.message ?? "", /^VirtualIP default\/lb: spec\.forwarding: ipvs forwarding needs IPVS/);
  });

  void test("a node's configRejected entry makes that VirtualIP alone Ready=False ConfigRejected", async () => {
    const words =
      "spec.interface: keepalived refused VRRP instance vip_4_53_eth1: (Line 9) WARNING - interface eth1 for vrrp_instance vip_4_53_eth1 doesn't exist; it does not run on this node";
    await env.admin.custom.patchNamespacedCustomObjectStatus(
      GROUP,
      VERSION,
      APP_NS,
      PLURAL,
      "later",
      {
        apiVersion: `${GROUP}/${VERSION}`,
        kind: "VirtualIP",
        metadata: { name: "later", namespace: APP_NS },
        status: { nodes: [{ name: "node-a", state: "FAULT", since: new Date().toISOString(), configRejected: words }] },
      },
      undefined,
      agentFieldManager("node-a"),
      true,
      { headers: { "Content-Type": k8s.PatchUtils.PATCH_FORMAT_APPLY_YAML } },
    );
    const v = await waitForReady("later", "ConfigRejected");
    assert.equal(conditionOf(v, "Ready")?.message, `VirtualIP default/later: node node-a refused its keepalived config; node-a: ${words}`);
    assert.equal(conditionOf(await readVip(env, "web"), "Ready")?.reason, "NoMaster", "web is not affected");
  });
});
