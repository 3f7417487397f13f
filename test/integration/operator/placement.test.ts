// The operator against a real API server publishes placement in the node
// Secrets (ADR 0018): `standby` for the nodes without a ready endpoint of an
// externalTrafficPolicy: Local Service, `handover` for cordoned and excluded
// nodes; keepalived.conf and the instance Secret do not change for either.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { publishedNodeSchema, type PublishedNode } from "../../../src/api/index.js";
import { kubectl } from "../../support/index.js";
import {
  createNode,
  createVip,
  eventually,
  labelNode,
  readNodeConfig,
  runOperator,
  startOperatorEnv,
  type OperatorEnv,
  type OperatorProcess,
} from "./harness.js";

let env: OperatorEnv;
let op: OperatorProcess;
const NODES: [string, string][] = [
  ["node-a", "192.0.2.11"],
  ["node-b", "192.0.2.12"],
  ["node-c", "192.0.2.13"],
];

async function apply(doc: unknown): Promise<void> {
  await kubectl(env.cp, ["apply", "--server-side", "-f", "-"], { input: JSON.stringify(doc) });
}

function endpointSlice(node: string): unknown {
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: { name: "local-1", namespace: "default", labels: { "kubernetes.io/service-name": "local" } },
    addressType: "IPv4",
    endpoints: [{ addresses: ["198.51.100.10"], nodeName: node, conditions: { ready: true } }],
    ports: [{ name: "http", protocol: "TCP", port: 80 }],
  };
}

async function published(node: string): Promise<{ node: PublishedNode; config: string }> {
  const cfg = await readNodeConfig(env, node);
  if (!cfg) throw new Error(`no node Secret for ${node}`);
  return { node: publishedNodeSchema.parse(JSON.parse(cfg.nodeJson)), config: cfg.config };
}

/** Node name -> whether its entry of the one instance is standby. */
async function standby(): Promise<Record<string, boolean>> {
  const out: Record<string, boolean> = {};
  for (const [n] of NODES) out[n] = (await published(n)).node.instances.some((e) => e.standby === true);
  return out;
}

before(async () => {
  env = await startOperatorEnv();
  for (const [name, ip] of NODES) await createNode(env, name, { ip });
  await apply({
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "local", namespace: "default" },
    spec: { type: "LoadBalancer", externalTrafficPolicy: "Local", allocateLoadBalancerNodePorts: false, ports: [{ name: "http", protocol: "TCP", port: 80 }] },
  });
  await apply(endpointSlice("node-c"));
  op = await runOperator(env, { identity: "op-1" });
  await createVip(env, "local", { service: "local", address: "192.0.2.60", virtualRouterId: 60 });
});

after(async () => {
  await op?.stop();
  await env?.cp.stop();
});

void describe("placement in the node Secrets", () => {
  void test(
    "the nodes without the ready endpoint stand by; a moved endpoint moves the standby, not one byte of keepalived.conf",
    { timeout: 60_000 },
    async () => {
      await eventually(async () => JSON.stringify(await standby()) === JSON.stringify({ "node-a": true, "node-b": true, "node-c": false }), {
        what: "standby on node-a and node-b",
        timeoutMs: 30_000,
      });
      const before = await Promise.all(NODES.map(([n]) => published(n)));
      await apply(endpointSlice("node-a"));
      await eventually(async () => JSON.stringify(await standby()) === JSON.stringify({ "node-a": false, "node-b": true, "node-c": true }), {
        what: "standby on node-b and node-c",
        timeoutMs: 30_000,
      });
      const after = await Promise.all(NODES.map(([n]) => published(n)));
      assert.deepEqual(
        after.map((p) => p.config),
        before.map((p) => p.config),
      );
    },
  );

  void test("with every endpoint gone nobody stands by", { timeout: 60_000 }, async () => {
    await kubectl(env.cp, ["delete", "endpointslice", "local-1", "-n", "default"]);
    await eventually(async () => Object.values(await standby()).every((s) => !s), { what: "no standby", timeoutMs: 30_000 });
  });

  void test(
    "a cordoned node and a node labelled exclude-from-external-load-balancers hand over; uncordon and unlabel end it",
    { timeout: 60_000 },
    async () => {
      const handover = async (): Promise<Record<string, string>> => {
        const out: Record<string, string> = {};
        for (const [n] of NODES) out[n] = (await published(n)).node.handover ?? "";
        return out;
      };
      const configBefore = (await published("node-a")).config;
      await kubectl(env.cp, ["cordon", "node-a"]);
      await labelNode(env, "node-b", { "node.kubernetes.io/exclude-from-external-load-balancers": "" });
      await eventually(
        async () => JSON.stringify(await handover()) === JSON.stringify({ "node-a": "Unschedulable", "node-b": "ExcludedFromLoadBalancers", "node-c": "" }),
        {
          what: "handover on node-a and node-b",
          timeoutMs: 30_000,
        },
      );
      assert.equal((await published("node-a")).config, configBefore);
      await kubectl(env.cp, ["uncordon", "node-a"]);
      await labelNode(env, "node-b", { "node.kubernetes.io/exclude-from-external-load-balancers": null });
      await eventually(async () => Object.values(await handover()).every((h) => h === ""), { what: "no handover", timeoutMs: 30_000 });
    },
  );
});
