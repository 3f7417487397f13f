// The size limit against a real API server: a VirtualIP whose Service (300
// ports x 100 endpoints, forwarding ipvs) would push the shared VRRP instance
// over the 1 MiB object limit joins a small tenant's instance. It is refused
// with TooLarge; the instance it tried to join is not touched, and every
// published Secret stays under the limit.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { COMPONENT_INSTANCE_CONFIG, LABEL_COMPONENT } from "../../../src/api/index.js";
import { OBJECT_LIMIT_BYTES } from "../../../src/operator/fit.js";
import {
  NS,
  conditionOf,
  createNode,
  createService,
  createVip,
  eventsFor,
  eventually,
  renewAgentLease,
  runOperator,
  startOperatorEnv,
  readVip,
  type OperatorEnv,
  type OperatorProcess,
  type StoredVip,
} from "./harness.js";

const TENANT_A = "team-a";
const TENANT_B = "team-b";
let env: OperatorEnv;
let op: OperatorProcess;
let heartbeat: NodeJS.Timeout | undefined;

/** Waits until the VirtualIP `namespace/name` has acted-on status with this Ready reason. */
function waitForReady(name: string, namespace: string, reason: string, timeoutMs = 30_000): Promise<StoredVip> {
  return eventually(
    async () => {
      const v = await readVip(env, name, namespace);
      return v && v.status?.observedGeneration === v.metadata.generation && conditionOf(v, "Ready")?.reason === reason ? v : undefined;
    },
    { timeoutMs, what: `VirtualIP ${namespace}/${name} Ready reason ${reason}` },
  );
}

async function instanceSecrets(): Promise<Map<string, { rv: string; bytes: number }>> {
  const res = await env.admin.core.listNamespacedSecret(NS, undefined, undefined, undefined, undefined, `${LABEL_COMPONENT}=${COMPONENT_INSTANCE_CONFIG}`);
  return new Map(res.body.items.map((s) => [s.metadata?.name ?? "", { rv: s.metadata?.resourceVersion ?? "", bytes: Buffer.byteLength(JSON.stringify(s)) }]));
}

/** A Service of 300 ports and 3 EndpointSlices of 100 ports x 100 ready endpoints. */
async function createHugeService(name: string, namespace: string): Promise<void> {
  const ports = Array.from({ length: 300 }, (_, i) => ({ name: `p${i}`, port: 10_000 + i, protocol: "TCP" }));
  await env.admin.core.createNamespacedService(namespace, {
    metadata: { name },
    spec: { type: "LoadBalancer", allocateLoadBalancerNodePorts: false, ports: ports.map((p) => ({ name: p.name, port: p.port, protocol: p.protocol })) },
  });
  const endpoints = Array.from({ length: 100 }, (_, i) => ({ addresses: [`198.51.100.${i + 1}`], conditions: { ready: true } }));
  for (let i = 0; i < 3; i++) {
    await env.admin.discovery.createNamespacedEndpointSlice(namespace, {
      metadata: { name: `${name}-${i}`, labels: { "kubernetes.io/service-name": name } },
      addressType: "IPv4",
      ports: ports.slice(i * 100, (i + 1) * 100),
      endpoints,
    });
  }
}

before(async () => {
  env = await startOperatorEnv();
  for (const [name, ip] of [
    ["node-a", "192.0.2.11"],
    ["node-b", "192.0.2.12"],
  ] as const) {
    await createNode(env, name, { ip });
    await renewAgentLease(env, name, { durationSeconds: 10, iface: "eth0" });
  }
  heartbeat = setInterval(() => {
    for (const n of ["node-a", "node-b"]) void renewAgentLease(env, n, { durationSeconds: 10 }).catch(() => undefined);
  }, 2000);
  for (const ns of [TENANT_A, TENANT_B]) await env.cp.ensureNamespace(ns);
  await createService(env, "web", { namespace: TENANT_A });
  await createVip(env, "victim", { service: "web", address: "192.0.2.50", virtualRouterId: 51, forwarding: "ipvs" }, TENANT_A);
  op = await runOperator(env, { identity: "op-1" });
  await waitForReady("victim", TENANT_A, "NoMaster");
});

after(async () => {
  if (heartbeat) clearInterval(heartbeat);
  await op?.stop();
  await env?.cp.stop();
});

void describe("a join that would pass the object size limit", () => {
  void test("is refused with TooLarge naming the VirtualIP; the instance it tried to join is not rewritten", async () => {
    const before = await eventually(
      async () => {
        const s = await instanceSecrets();
        return s.size === 1 ? s : undefined;
      },
      { what: "the victim's instance Secret" },
    );
    await createHugeService("huge", TENANT_A);
    await createVip(env, "joiner", { service: "huge", address: "192.0.2.51", virtualRouterId: 51, forwarding: "ipvs" }, TENANT_A);
    const v = await waitForReady("joiner", TENANT_A, "TooLarge", 60_000);
    assert.equal(conditionOf(v, "Ready")?.status, "False");
    assert.match(conditionOf(v, "Ready")?.message ?? "", /team-a\/joiner.*over the \d+-byte limit/);
    await eventually(async () => (await eventsFor(env, "joiner", TENANT_A)).some((e) => e.type === "Warning" && e.reason === "TooLarge"), {
      what: "a TooLarge Event",
    });
    const victim = await waitForReady("victim", TENANT_A, "NoMaster");
    assert.notEqual(conditionOf(victim, "Ready")?.reason, "TooLarge");
    const after = await instanceSecrets();
    assert.deepEqual([...after.entries()], [...before.entries()], "the victim's instance Secret is the same object, unchanged");
    for (const [name, s] of after) assert.ok(s.bytes < OBJECT_LIMIT_BYTES, `${name}: ${s.bytes} bytes`);
  });

  void test("another VirtualIP created afterwards on another router id goes in as usual", async () => {
    await createService(env, "api", { namespace: TENANT_B });
    await createVip(env, "later", { service: "api", address: "192.0.2.52", virtualRouterId: 52, forwarding: "kube-proxy" }, TENANT_B);
    await waitForReady("later", TENANT_B, "NoMaster");
    assert.equal((await instanceSecrets()).size, 2);
  });
});
