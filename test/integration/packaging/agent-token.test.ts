// The agent's least privilege, enforced by the API server: the manifests of
// config/default applied to a real API server, and tokens bound to agent Pods
// on named nodes (as the kubelet mints them). Every write an agent needs
// works through the agent's own code; every forbidden one is refused (RBAC 403
// or admission denial), also when the other node's object exists.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import * as k8s from "@kubernetes/client-node";
import { LEADER_LEASE_NAME, agentFieldManager, agentLeaseName, nodeConfigSecretName } from "../../../src/api/index.js";
import { applyHeartbeatLease, applyNodeStatusEntry } from "../../../src/kube/agent-io.js";
import { errorStatus, type KubeClients } from "../../../src/kube/client.js";
import { REPO_ROOT, kubectl, podBoundClientConfig, startControlPlane, type ControlPlane } from "../../support/index.js";
import { NAMESPACE, PLAN_NAMESPACE } from "./manifests.js";

const AGENT_SA = "keepalived-vip-agent";
const TENANT = "tenant-a";
const VIP = { namespace: TENANT, name: "web" };

function clientsOf(kc: k8s.KubeConfig): KubeClients {
  return {
    kc,
    core: kc.makeApiClient(k8s.CoreV1Api),
    apps: kc.makeApiClient(k8s.AppsV1Api),
    coordination: kc.makeApiClient(k8s.CoordinationV1Api),
    discovery: kc.makeApiClient(k8s.DiscoveryV1Api),
    custom: kc.makeApiClient(k8s.CustomObjectsApi),
    objects: k8s.KubernetesObjectApi.makeApiClient(kc),
    countWrite: () => undefined,
  };
}

/** 200 when the call succeeded, else the HTTP status of its failure (and the message). */
async function outcome(call: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await call;
    return { code: 200, message: "" };
  } catch (err) {
    const code = errorStatus(err);
    if (code === undefined) throw err;
    const body = (err as { body?: { message?: string } }).body;
    return { code, message: body?.message ?? "" };
  }
}

const heartbeat = (node: string, opts: { name?: string; holder?: string } = {}) => ({
  namespace: PLAN_NAMESPACE,
  name: opts.name ?? agentLeaseName(node),
  node: opts.holder ?? node,
  leaseDurationSeconds: 10,
  annotations: {},
  now: Date.now(),
});

const entry = (node: string, state: "MASTER" | "BACKUP") => ({
  name: node,
  state,
  priority: 100,
  since: "2026-01-01T00:00:00Z",
  lastReportTime: "2026-01-01T00:00:00Z",
});

/** node-a's JSON merge patch of the VirtualIP's status under its own field manager (`dryRun` "All": nothing stored). */
function mergePatchStatus(status: Record<string, unknown>, opts: { dryRun?: "All"; fieldManager?: string } = {}): Promise<unknown> {
  return nodeA.custom.patchNamespacedCustomObjectStatus(
    "keepalived-vip.io",
    "v1alpha1",
    VIP.namespace,
    "virtualips",
    VIP.name,
    { status },
    opts.dryRun,
    opts.fieldManager,
    undefined,
    { headers: { "Content-Type": "application/merge-patch+json" } },
  );
}

/** Repeats the dry-run `probe` until the API server refuses it with 403 and `says`; throws after 20 s. */
async function untilRefused(what: string, probe: () => Promise<unknown>, says: RegExp): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (let tries = 1; ; tries++) {
    const got = await outcome(probe());
    if (got.code === 403 && says.test(got.message)) {
      console.log(`# ${what} refused the dry-run probe at try ${tries}`);
      return;
    }
    if (Date.now() > deadline) throw new Error(`${what} is not in force after 20 s: the probe got ${got.code} (${got.message})`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

let cp: ControlPlane;
let admin: KubeClients;
let nodeA: KubeClients;
let nodeB: KubeClients;
let unbound: KubeClients;

before(async () => {
  cp = await startControlPlane();
  const res = await kubectl(cp, ["apply", "--server-side", "-k", join(REPO_ROOT, "config/default")], { check: false });
  assert.equal(res.code, 0, res.stderr);
  await kubectl(cp, ["wait", "--for=condition=Established", "--timeout=30s", "crd/virtualips.keepalived-vip.io"]);
  admin = clientsOf(cp.kc);
  for (const name of ["node-a", "node-b"]) await admin.core.createNode({ metadata: { name } });
  nodeA = clientsOf(await podBoundClientConfig(cp, { namespace: NAMESPACE, serviceAccount: AGENT_SA, node: "node-a", pod: "agent-a" }));
  nodeB = clientsOf(await podBoundClientConfig(cp, { namespace: NAMESPACE, serviceAccount: AGENT_SA, node: "node-b", pod: "agent-b" }));
  unbound = clientsOf(await cp.clientConfigFor(NAMESPACE, AGENT_SA));
  await cp.ensureNamespace(TENANT);
  await kubectl(cp, ["apply", "--server-side", "-f", "-"], {
    input: [
      { apiVersion: "v1", kind: "Secret", metadata: { name: "vrrp-auth", namespace: TENANT }, stringData: { password: "s3cret" } },
      { apiVersion: "v1", kind: "Secret", metadata: { name: "sh.helm.release.v1.kvo.v1", namespace: NAMESPACE }, stringData: { release: "x" } },
      { apiVersion: "v1", kind: "Secret", metadata: { name: nodeConfigSecretName("node-a"), namespace: PLAN_NAMESPACE }, stringData: { "node.json": "{}" } },
      {
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: { name: LEADER_LEASE_NAME, namespace: NAMESPACE },
        spec: { holderIdentity: "operator-0", leaseDurationSeconds: 15 },
      },
      {
        apiVersion: "keepalived-vip.io/v1alpha1",
        kind: "VirtualIP",
        metadata: VIP,
        spec: { serviceRef: { name: "web" }, address: "192.0.2.50", virtualRouterId: 51 },
      },
    ]
      .map((o) => JSON.stringify(o))
      .join("\n"),
  });
  // The API server loads admission policies a moment after they are created (it refreshes them every
  // second), and the two policies may arrive in different refreshes: wait until each refuses, with
  // dry-run requests that change nothing when they are let through.
  await untilRefused(
    "the Lease policy",
    () =>
      nodeA.coordination.createNamespacedLease(
        PLAN_NAMESPACE,
        { metadata: { name: "keepalived-vip-agent-probe" }, spec: { holderIdentity: "node-a" } },
        undefined,
        "All",
      ),
    /may write only the Lease/,
  );
  await untilRefused(
    "the status policy",
    () => mergePatchStatus({ master: "node-a" }, { dryRun: "All", fieldManager: agentFieldManager("node-a") }),
    /not the summary/,
  );
  // node-b's own facts, written by node-b's agent, that node-a must not touch.
  await applyHeartbeatLease(nodeB, heartbeat("node-b"));
  await applyNodeStatusEntry(nodeB, VIP, "node-b", entry("node-b", "MASTER"));
});

after(async () => {
  await cp?.stop();
});

async function vipStatus(): Promise<{ master?: string; nodes?: { name: string; state: string }[] }> {
  const res = await admin.custom.getNamespacedCustomObject("keepalived-vip.io", "v1alpha1", VIP.namespace, "virtualips", VIP.name);
  return (res.body as { status?: { master?: string; nodes?: { name: string; state: string }[] } }).status ?? {};
}

void describe("an agent's Pod-bound token may do what the agent needs", () => {
  void test("renew its own heartbeat Lease (server-side apply, as the agent does), twice", async () => {
    await applyHeartbeatLease(nodeA, heartbeat("node-a"));
    await applyHeartbeatLease(nodeA, heartbeat("node-a"));
    const lease = await admin.coordination.readNamespacedLease(agentLeaseName("node-a"), PLAN_NAMESPACE);
    assert.equal(lease.body.spec?.holderIdentity, "node-a");
  });

  void test("apply its own entry of status.nodes, change it, and remove it", async () => {
    await applyNodeStatusEntry(nodeA, VIP, "node-a", entry("node-a", "BACKUP"));
    assert.deepEqual((await vipStatus()).nodes?.map((n) => `${n.name}=${n.state}`).sort(), ["node-a=BACKUP", "node-b=MASTER"]);
    await applyNodeStatusEntry(nodeA, VIP, "node-a", entry("node-a", "MASTER"));
    assert.deepEqual((await vipStatus()).nodes?.map((n) => `${n.name}=${n.state}`).sort(), ["node-a=MASTER", "node-b=MASTER"]);
    await applyNodeStatusEntry(nodeA, VIP, "node-a", undefined);
    assert.deepEqual(
      (await vipStatus()).nodes?.map((n) => `${n.name}=${n.state}`),
      ["node-b=MASTER"],
    );
    await applyNodeStatusEntry(nodeA, VIP, "node-a", entry("node-a", "BACKUP"));
  });

  void test("read the published plan: its node Secret by name, the instance Secrets by label", async () => {
    assert.equal((await outcome(nodeA.core.readNamespacedSecret(nodeConfigSecretName("node-a"), PLAN_NAMESPACE))).code, 200);
    const byLabel = nodeA.core.listNamespacedSecret(PLAN_NAMESPACE, undefined, undefined, undefined, undefined, "app.kubernetes.io/component=instance-config");
    assert.equal((await outcome(byLabel)).code, 200);
  });
});

void describe("an agent's Pod-bound token is refused everything else by the API server", () => {
  const leaderLease = { metadata: { name: LEADER_LEASE_NAME, namespace: NAMESPACE }, spec: { holderIdentity: "node-a", leaseDurationSeconds: 2147483647 } };
  const cases: { name: string; act: () => Promise<unknown>; code: number; says?: RegExp }[] = [
    {
      name: "node-a may not apply node-b's heartbeat Lease",
      act: () => applyHeartbeatLease(nodeA, heartbeat("node-b")),
      code: 403,
      says: /may write only the Lease keepalived-vip-agent-node-a/,
    },
    {
      name: "node-a may not update node-b's heartbeat Lease (PUT)",
      act: async () => {
        const cur = await admin.coordination.readNamespacedLease(agentLeaseName("node-b"), PLAN_NAMESPACE);
        return nodeA.coordination.replaceNamespacedLease(agentLeaseName("node-b"), PLAN_NAMESPACE, {
          ...cur.body,
          spec: { ...cur.body.spec, renewTime: new k8s.V1MicroTime() },
        });
      },
      code: 403,
    },
    {
      name: "node-a may not delete node-b's heartbeat Lease",
      act: () => nodeA.coordination.deleteNamespacedLease(agentLeaseName("node-b"), PLAN_NAMESPACE),
      code: 403,
    },
    {
      name: "node-a may not name node-b as the holder of its own Lease",
      act: () => applyHeartbeatLease(nodeA, heartbeat("node-a", { holder: "node-b" })),
      code: 403,
      says: /holderIdentity/,
    },
    {
      name: "node-a may not create another Lease in the plan's namespace",
      act: () => applyHeartbeatLease(nodeA, heartbeat("node-a", { name: "keepalived-vip-operator-leader" })),
      code: 403,
    },
    { name: "node-a may not read the operator's leader Lease", act: () => nodeA.coordination.readNamespacedLease(LEADER_LEASE_NAME, NAMESPACE), code: 403 },
    {
      name: "node-a may not replace the operator's leader Lease",
      act: () => nodeA.coordination.replaceNamespacedLease(LEADER_LEASE_NAME, NAMESPACE, leaderLease),
      code: 403,
    },
    {
      name: "node-a may not create a Lease in the operator's namespace",
      act: () =>
        nodeA.coordination.createNamespacedLease(NAMESPACE, {
          metadata: { name: agentLeaseName("node-a"), namespace: NAMESPACE },
          spec: { holderIdentity: "node-a" },
        }),
      code: 403,
    },
    {
      name: "node-a may not apply node-b's status entry (under node-b's field manager)",
      act: () => applyNodeStatusEntry(nodeA, VIP, "node-b", entry("node-b", "BACKUP")),
      code: 403,
      says: /may change only its own entry of status\.nodes/,
    },
    {
      name: "node-a may not remove node-b's status entry with a merge patch",
      act: () => mergePatchStatus({ nodes: [entry("node-a", "MASTER")] }),
      code: 403,
    },
    {
      name: "node-a may not write the operator's summary (status.master)",
      act: () => mergePatchStatus({ master: "node-a" }, { fieldManager: agentFieldManager("node-a") }),
      code: 403,
      says: /not the summary/,
    },
    {
      name: "node-a may not forge the allocation or the claim (status.address, status.claim)",
      act: () =>
        mergePatchStatus(
          { address: "192.0.2.99", claim: { address: "192.0.2.99", virtualRouterId: 99, generation: 1, time: "2020-01-01T00:00:00Z" } },
          { fieldManager: agentFieldManager("node-a") },
        ),
      code: 403,
      says: /not the summary/,
    },
    { name: "node-a may not read a tenant's VRRP auth Secret", act: () => nodeA.core.readNamespacedSecret("vrrp-auth", TENANT), code: 403 },
    { name: "node-a may not list the operator namespace's Secrets (the Helm release)", act: () => nodeA.core.listNamespacedSecret(NAMESPACE), code: 403 },
    {
      name: "node-a may not read a Secret in the operator's namespace",
      act: () => nodeA.core.readNamespacedSecret("sh.helm.release.v1.kvo.v1", NAMESPACE),
      code: 403,
    },
    {
      name: "node-a may not write Secrets of the plan",
      act: () => nodeA.core.createNamespacedSecret(PLAN_NAMESPACE, { metadata: { name: "forged" }, stringData: { a: "b" } }),
      code: 403,
    },
    {
      name: "a token not bound to a Pod on a node may not write even a heartbeat",
      act: () => applyHeartbeatLease(unbound, heartbeat("node-a")),
      code: 403,
      says: /bound to a Pod on a node/,
    },
    {
      name: "a token not bound to a Pod on a node may not write a status entry",
      act: () => applyNodeStatusEntry(unbound, VIP, "node-a", entry("node-a", "MASTER")),
      code: 403,
    },
  ];
  for (const c of cases) {
    void test(c.name, async () => {
      const got = await outcome(c.act());
      assert.equal(got.code, c.code, `refused with ${c.code} (${got.message})`);
      if (c.says) assert.match(got.message, c.says);
    });
  }

  void test("after all of it, node-b's Lease, node-b's entry and the leader Lease are as their owners wrote them", async () => {
    const lease = await admin.coordination.readNamespacedLease(agentLeaseName("node-b"), PLAN_NAMESPACE);
    assert.equal(lease.body.spec?.holderIdentity, "node-b");
    const status = await vipStatus();
    assert.equal(status.nodes?.find((n) => n.name === "node-b")?.state, "MASTER");
    assert.equal(status.master, undefined);
    const leader = await admin.coordination.readNamespacedLease(LEADER_LEASE_NAME, NAMESPACE);
    assert.equal(leader.body.spec?.holderIdentity, "operator-0");
    assert.equal(leader.body.spec?.leaseDurationSeconds, 15);
  });
});
