// The operator against a real API server, as its own ServiceAccount bound by
// config/rbac: DaemonSet, node config Secrets, Service ingress, conflicts,
// Nodes coming and going, finalizer cleanup, and no writes once converged.
// Watches time out every 10-20 s here (--min-request-timeout), so watch
// resumes happen during the tests too.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  ANNOTATION_CONFIG_HASH,
  ANNOTATION_INSTANCE,
  ANNOTATION_NODE,
  DAEMONSET_NAME,
  FINALIZER,
  instanceSecretName,
  nodeConfigSecretName,
} from "../../../src/api/index.js";
import { errorStatus } from "../../../src/kube/client.js";
import {
  NS,
  conditionOf,
  createNode,
  createService,
  createVip,
  deleteNode,
  deleteVip,
  eventsFor,
  eventually,
  labelNode,
  listNodeConfigNames,
  patchVipSpec,
  readNodeConfig,
  readVip,
  runOperator,
  serviceIngress,
  startOperatorEnv,
  vipsInConfig,
  waitForReady,
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

before(async () => {
  env = await startOperatorEnv({ apiServerFlags: ["--min-request-timeout=10"] });
  for (const [name, ip] of NODES) await createNode(env, name, { ip });
  op = await runOperator(env, { identity: "op-1" });
});

after(async () => {
  await op?.stop();
  await env?.cp.stop();
});

function everyNode<T>(fn: (node: string) => Promise<T>): Promise<T[]> {
  return Promise.all(NODES.map(([n]) => fn(n)));
}

/** The vrrp_instance block of a config that carries `address` ("" when none does). */
function instanceBlock(config: string, address: string): string {
  return config.split(/^(?=vrrp_instance |virtual_server |global_defs )/m).find((b) => b.startsWith("vrrp_instance ") && b.includes(`${address}/`)) ?? "";
}

/** Waits until every node config carries exactly `want` among the VirtualIPs named in `among`. */
async function waitForConfigs(want: string[], among: string[], nodes = NODES.map(([n]) => n)): Promise<void> {
  await eventually(
    async () => {
      for (const n of nodes) {
        const have = vipsInConfig(await readNodeConfig(env, n)).filter((k) => among.includes(k));
        if (JSON.stringify(have) !== JSON.stringify([...want].sort())) return false;
      }
      return true;
    },
    { what: `node configs with ${want.join(", ") || "nothing"}` },
  );
}

void describe("owned objects", () => {
  void test("applies the agent DaemonSet: hostNetwork, only NET_ADMIN/NET_RAW/NET_BROADCAST/SYS_NICE, node env, runtime dir", async () => {
    const ds = await eventually(async () => (await env.admin.apps.readNamespacedDaemonSet(DAEMONSET_NAME, NS)).body, { what: "DaemonSet" });
    const pod = ds.spec?.template.spec;
    const c = pod?.containers[0];
    assert.equal(pod?.hostNetwork, true);
    assert.equal(pod?.dnsPolicy, "ClusterFirstWithHostNet");
    assert.equal(pod?.serviceAccountName, "keepalived-vip-agent");
    assert.deepEqual({ ...c?.securityContext?.capabilities }, { drop: ["ALL"], add: ["NET_ADMIN", "NET_RAW", "NET_BROADCAST", "SYS_NICE"] });
    assert.equal(c?.securityContext?.privileged, false);
    assert.equal(c?.securityContext?.runAsUser, 0);
    assert.deepEqual(c?.args?.slice(0, 2), ["agent", "--metrics-bind-address=:9101"]);
    assert.deepEqual(
      c?.env?.map((e) => [e.name, e.valueFrom?.fieldRef?.fieldPath]),
      [
        ["NODE_NAME", "spec.nodeName"],
        ["POD_NAMESPACE", "metadata.namespace"],
        ["POD_NAME", "metadata.name"],
        ["HOST_IP", "status.hostIP"],
      ],
    );
    assert.equal(c?.livenessProbe?.httpGet?.path, "/healthz");
    assert.equal(c?.volumeMounts?.[0]?.mountPath, "/run/keepalived-vip");
    assert.ok(pod?.volumes?.[0]?.emptyDir);
  });

  void test("writes one config Secret per Node, owned by (not controlled by) its Node, with node and hash annotations", async () => {
    await eventually(async () => (await listNodeConfigNames(env)).length === NODES.length, { what: "3 node Secrets" });
    for (const [node] of NODES) {
      const s = await readNodeConfig(env, node);
      const uid = (await env.admin.core.readNode(node)).body.metadata?.uid;
      assert.ok(s);
      assert.equal(s.annotations[ANNOTATION_NODE], node);
      assert.equal(s.annotations[ANNOTATION_CONFIG_HASH], createHash("sha256").update(s.nodeJson).digest("hex"));
      assert.equal(s.waiting, undefined);
      assert.equal(s.instances.node, node);
      assert.deepEqual(
        s.ownerReferences.map((o) => [o.kind, o.name, o.uid, o.controller, o.blockOwnerDeletion]),
        [["Node", node, uid, false, false]],
      );
      assert.equal(s.labels["app.kubernetes.io/component"], "node-config");
    }
  });
});

void describe("VirtualIPs", () => {
  void test("a kube-proxy VirtualIP reaches every node config and the Service ingress, gets the finalizer and Ready=NoMaster", async () => {
    await createService(env, "web");
    await createVip(env, "web", { service: "web", address: "192.0.2.50", virtualRouterId: 51 });
    const vip = await waitForReady(env, "web", "NoMaster");
    assert.ok(vip.metadata.finalizers?.includes(FINALIZER));
    assert.equal(vip.status?.master, "");
    assert.equal(vip.status?.failovers, 0);
    await waitForConfigs(["default/web"], ["default/web"]);
    await eventually(async () => JSON.stringify(await serviceIngress(env, "web")) === '["192.0.2.50"]', { what: "ingress 192.0.2.50" });
    const cfg = await readNodeConfig(env, "node-a");
    assert.match(cfg?.config ?? "", /192\.0\.2\.50/);
    assert.match(cfg?.config ?? "", /unicast_peer/);
  });

  void test("a new address replaces the old one in configs and in the Service ingress, rewriting its instance Secret and no node Secret", async () => {
    const nodeSecretVersions = await everyNode(async (n) => (await readNodeConfig(env, n))?.resourceVersion);
    await patchVipSpec(env, "web", { address: "192.0.2.60" });
    await eventually(async () => JSON.stringify(await serviceIngress(env, "web")) === '["192.0.2.60"]', { what: "ingress 192.0.2.60" });
    await eventually(
      async () =>
        (await everyNode(async (n) => (await readNodeConfig(env, n))?.config ?? "")).every((c) => c.includes("192.0.2.60") && !c.includes("192.0.2.50")),
      {
        what: "configs with the new address",
      },
    );
    assert.deepEqual(
      await everyNode(async (n) => (await readNodeConfig(env, n))?.resourceVersion),
      nodeSecretVersions,
      "the address lives in the instance Secret only",
    );
    const vip = await waitForReady(env, "web", "NoMaster");
    assert.equal(vip.status?.observedGeneration, vip.metadata.generation);
  });

  void test("VirtualIPs with the same router id and settings share one VRRP instance; two on one Service are merged in its ingress", async () => {
    await createVip(env, "web-extra", { service: "web", address: "192.0.2.61", virtualRouterId: 51 });
    await waitForReady(env, "web-extra", "NoMaster");
    await eventually(async () => JSON.stringify(await serviceIngress(env, "web")) === '["192.0.2.60","192.0.2.61"]', { what: "merged ingress" });
    const cfg = await eventually(async () => {
      const c = await readNodeConfig(env, "node-b");
      return c?.instances.instances.find((i) => i.virtualRouterId === 51 && i.virtualIPs.length === 2) ? c : undefined;
    });
    const inst = cfg.instances.instances.filter((i) => i.virtualRouterId === 51);
    assert.equal(inst.length, 1);
    assert.deepEqual(inst[0]?.virtualIPs, ["default/web", "default/web-extra"]);
    assert.deepEqual(inst[0]?.addresses, ["192.0.2.60", "192.0.2.61"]);
  });

  void test("a newer VirtualIP with a taken address gets Conflict and an Event, and takes over when the older one goes", async () => {
    await createService(env, "dup");
    // creationTimestamp has whole seconds: make sure "dup" is the newer one (a tie goes by name).
    await new Promise((r) => setTimeout(r, 1100));
    await createVip(env, "dup", { service: "dup", address: "192.0.2.61", virtualRouterId: 52 });
    const vip = await waitForReady(env, "dup", "Conflict");
    assert.equal(conditionOf(vip, "Conflict")?.status, "True");
    assert.equal(conditionOf(vip, "Conflict")?.reason, "DuplicateAddress");
    assert.match(conditionOf(vip, "Conflict")?.message ?? "", /web-extra/);
    const events = await eventually(async () => {
      const ev = await eventsFor(env, "dup");
      return ev.some((e) => e.reason === "DuplicateAddress" && e.type === "Warning") ? ev : undefined;
    });
    assert.ok(events.length >= 1);
    assert.deepEqual(await serviceIngress(env, "dup"), []);
    await waitForConfigs(["default/web-extra"], ["default/web-extra", "default/dup"]);
    await deleteVip(env, "web-extra");
    await waitForReady(env, "dup", "NoMaster");
    assert.equal(conditionOf(await readVip(env, "dup"), "Conflict")?.status, "False");
    await waitForConfigs(["default/dup"], ["default/web-extra", "default/dup"]);
    await eventually(async () => JSON.stringify(await serviceIngress(env, "dup")) === '["192.0.2.61"]', { what: "dup ingress" });
    await eventually(async () => JSON.stringify(await serviceIngress(env, "web")) === '["192.0.2.60"]', { what: "web ingress without web-extra" });
  });

  void test("a VirtualIP whose Service is created later waits with ServiceNotFound, then goes live", async () => {
    await createVip(env, "late", { service: "late", address: "192.0.2.70", virtualRouterId: 53 });
    const vip = await waitForReady(env, "late", "ServiceNotFound");
    assert.match(conditionOf(vip, "Ready")?.message ?? "", /late/);
    await eventually(async () => (await eventsFor(env, "late")).some((e) => e.reason === "ServiceNotFound"), { what: "ServiceNotFound Event" });
    await createService(env, "late");
    await waitForReady(env, "late", "NoMaster");
    await eventually(async () => JSON.stringify(await serviceIngress(env, "late")) === '["192.0.2.70"]', { what: "late ingress" });
  });

  void test("kube-proxy forwarding on a ClusterIP Service is ServiceNotLoadBalancer and publishes nothing", async () => {
    await createService(env, "internal", { type: "ClusterIP" });
    await createVip(env, "internal", { service: "internal", address: "192.0.2.71", virtualRouterId: 54 });
    await waitForReady(env, "internal", "ServiceNotLoadBalancer");
    assert.deepEqual(await serviceIngress(env, "internal"), []);
  });

  void test("an advert interval below the floor (default 100ms) is AdvertIntervalTooShort with a Warning Event and publishes nothing, until it is raised", async () => {
    await createService(env, "fast");
    await createVip(env, "fast", { service: "fast", address: "192.0.2.72", virtualRouterId: 55, vrrp: { version: 3, advertisementInterval: "50ms" } });
    const vip = await waitForReady(env, "fast", "AdvertIntervalTooShort");
    assert.equal(conditionOf(vip, "Ready")?.status, "False");
    assert.match(
      conditionOf(vip, "Ready")?.message ?? "",
      /spec\.vrrp\.advertisementInterval: 50ms is below the smallest advert interval this cluster allows, 100ms/,
    );
    await eventually(async () => (await eventsFor(env, "fast")).some((e) => e.reason === "AdvertIntervalTooShort" && e.type === "Warning"), {
      what: "AdvertIntervalTooShort Event",
    });
    assert.deepEqual(await serviceIngress(env, "fast"), []);
    await waitForConfigs([], ["default/fast"]);
    await patchVipSpec(env, "fast", { vrrp: { version: 3, advertisementInterval: "100ms" } });
    await waitForReady(env, "fast", "NoMaster");
    await eventually(async () => JSON.stringify(await serviceIngress(env, "fast")) === '["192.0.2.72"]', { what: "fast ingress" });
  });
});

void describe("Nodes", () => {
  void test("only selected Nodes take part; priorities, peers and Secrets follow labels, new and deleted Nodes", async () => {
    await createService(env, "sel");
    await labelNode(env, "node-a", { vip: "yes" });
    await labelNode(env, "node-b", { vip: "yes" });
    await createVip(env, "sel", {
      service: "sel",
      address: "192.0.2.80",
      virtualRouterId: 60,
      nodeSelector: { matchLabels: { vip: "yes" } },
      vrrp: { priorities: { "node-a": 150 } },
    });
    await waitForReady(env, "sel", "NoMaster");
    await waitForConfigs(["default/sel"], ["default/sel"], ["node-a", "node-b"]);
    await waitForConfigs([], ["default/sel"], ["node-c"]);
    const instOf = async (node: string) => (await readNodeConfig(env, node))?.instances.instances.find((i) => i.virtualIPs.includes("default/sel"));
    assert.equal((await instOf("node-a"))?.priority, 150);
    assert.equal((await instOf("node-b"))?.priority, 100);
    const selBlock = async (node: string) => instanceBlock((await readNodeConfig(env, node))?.config ?? "", "192.0.2.80");
    assert.match(await selBlock("node-a"), /unicast_peer[^}]*192\.0\.2\.12/);
    assert.doesNotMatch(await selBlock("node-a"), /192\.0\.2\.13/);

    // A new selected Node: it gets a Secret, and the others list it as a peer.
    await createNode(env, "node-d", { ip: "192.0.2.14", labels: { vip: "yes" } });
    await eventually(async () => (await instOf("node-d")) !== undefined, { what: "node-d config" });
    await eventually(async () => (await selBlock("node-a")).includes("192.0.2.14"), { what: "node-d as peer of node-a" });

    // Relabelled: node-b leaves.
    await labelNode(env, "node-b", { vip: null });
    await eventually(async () => (await instOf("node-b")) === undefined, { what: "node-b without sel" });
    await eventually(async () => !(await selBlock("node-a")).includes("192.0.2.12"), { what: "node-b no longer a peer" });

    // Deleted: its Secret goes too (no garbage collector here: the operator deletes it).
    await deleteNode(env, "node-d");
    await eventually(async () => !(await listNodeConfigNames(env)).includes(nodeConfigSecretName("node-d")), { what: "node-d Secret deleted" });
    await eventually(async () => !(await selBlock("node-a")).includes("192.0.2.14"), { what: "node-d no longer a peer" });
  });
});

void describe("deletion", () => {
  void test("a deleted VirtualIP leaves every node config and its Service, then its finalizer goes", async () => {
    await deleteVip(env, "web");
    await eventually(async () => (await readVip(env, "web")) === undefined, { what: "web gone" });
    await waitForConfigs([], ["default/web"]);
    assert.deepEqual(await serviceIngress(env, "web"), []);
  });

  void test("each VRRP instance has a Secret of its own (labels, instance and hash annotations, no owner), deleted with its last VirtualIP", async () => {
    await createVip(env, "solo", { service: "web", address: "192.0.2.90", virtualRouterId: 97 });
    const name = instanceSecretName("vip_4_97");
    const secret = await eventually(
      async () => {
        try {
          return (await env.admin.core.readNamespacedSecret(name, NS)).body;
        } catch {
          return undefined;
        }
      },
      { what: `instance Secret ${name}` },
    );
    assert.equal(secret.metadata?.labels?.["app.kubernetes.io/component"], "instance-config");
    assert.equal(secret.metadata?.labels?.["app.kubernetes.io/managed-by"], "keepalived-vip-operator");
    assert.equal(secret.metadata?.annotations?.[ANNOTATION_INSTANCE], "vip_4_97");
    const json = Buffer.from(secret.data?.["instance.json"] ?? "", "base64").toString("utf8");
    assert.equal(secret.metadata?.annotations?.[ANNOTATION_CONFIG_HASH], createHash("sha256").update(json).digest("hex"));
    assert.deepEqual(JSON.parse(json).virtualIPs, ["default/solo"]);
    assert.equal(secret.metadata?.ownerReferences, undefined);
    await deleteVip(env, "solo");
    await eventually(async () => (await readVip(env, "solo")) === undefined, { what: "solo gone" });
    await eventually(
      async () => {
        try {
          await env.admin.core.readNamespacedSecret(name, NS);
          return false;
        } catch (err) {
          return errorStatus(err) === 404;
        }
      },
      { what: `instance Secret ${name} deleted` },
    );
  });
});

void describe("quiet when converged", () => {
  /** Waits until the writes metric stays flat for `quietMs`; resolves the count. */
  async function settledWrites(p: OperatorProcess, quietMs = 3000): Promise<number> {
    let last = await p.writes();
    let since = Date.now();
    return eventually(
      async () => {
        const now = await p.writes();
        if (now !== last) {
          last = now;
          since = Date.now();
          return undefined;
        }
        return Date.now() - since >= quietMs ? now : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250, what: "writes to settle" },
    );
  }

  void test("watches the API server ends are resumed from their resourceVersion and write nothing", async () => {
    const before = await settledWrites(op);
    const resumed = async (): Promise<number> => {
      let n = 0;
      for (const [k, v] of await op.metrics()) if (k.startsWith("keepalived_vip_operator_watch_restarts_total{") && k.includes('how="resumed"')) n += v;
      return n;
    };
    const resumedBefore = await resumed();
    // --min-request-timeout=10: the API server ends every watch within 20 s.
    await new Promise((r) => setTimeout(r, 25_000));
    assert.ok((await resumed()) > resumedBefore, "no watch was resumed");
    assert.equal(await op.writes(), before);
    assert.equal(await op.ready(), true);
  });

  void test("a restarted operator writes nothing", async () => {
    await op.stop();
    op = await runOperator(env, { identity: "op-2" });
    await new Promise((r) => setTimeout(r, 5000));
    const m = await op.metrics();
    assert.ok((m.get('keepalived_vip_operator_reconciles_total{kind="plan",result="success"}') ?? 0) >= 1, "no planning pass ran");
    assert.equal(await op.writes(), 0);
  });
});
