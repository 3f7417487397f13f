// The chart's pods on real kubelets: three nodes, each a network namespace
// running its own containerd and kubelet (test/support/kubeletcluster.ts).
// The README's install, then the failures and operations a real install
// goes through: the MASTER's agent pod deleted, a `helm upgrade` that rolls
// the agents, a drain of the MASTER's node, an API server outage, `helm
// uninstall`, and the same operator from `kubectl apply -k config/default`.
// One cluster for the whole file; the tests run in order.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { KubeletCluster } from "../support/kubeletcluster.js";
import { sleep } from "../support/process.js";
import {
  holders,
  install,
  leader,
  NAMESPACE,
  pods,
  RELEASE,
  startCluster,
  startVipProbe,
  upgrade,
  VIP,
  vipStatus,
  virtualIPManifest,
  waitFor,
  waitForOneMaster,
  waitForOperatorAndAgents,
  whoamiManifests,
  type VipProbe,
} from "./release.js";
import { monotonicNow } from "../support/clock.js";

let c: KubeletCluster;
let probe: VipProbe | undefined;
/** restartCount of every operator and agent pod before and after the API server outage. */
let outage: { before: Record<string, number>; after: Record<string, number> } | undefined;

async function restartCounts(): Promise<Record<string, number>> {
  return Object.fromEntries([...(await pods(c, "operator")), ...(await pods(c, "agent"))].map((p) => [p.name, p.restarts]));
}

before(async () => {
  const t0 = monotonicNow();
  c = await startCluster((line) => console.log(`# cluster: ${line} (${monotonicNow() - t0} ms)`));
  console.log(`# cluster: 3 nodes Ready in ${c.startupMs} ms`);
});

after(async () => {
  await probe?.stop();
  if (c) {
    console.log(`# memory (KiB RSS): ${JSON.stringify(c.memory())}`);
    await c.stop();
  }
});

function agentOn(list: { node: string; name: string; uid: string }[], node: string): { node: string; name: string; uid: string } {
  const p = list.find((a) => a.node === node);
  assert.ok(p, `no agent pod on ${node}: ${JSON.stringify(list)}`);
  return p;
}

void describe("the chart on three kubelet nodes", () => {
  void test(
    "helm install as the README says: operator pods Running with one leader, an agent per node, the VIP held by one node and answering",
    { timeout: 300_000 },
    async () => {
      await install(c, { method: "helm" });
      const { operators, agents } = await waitForOperatorAndAgents(c);
      assert.equal(agents.length, 3);
      // A watch started on the CRD helm installed a moment before answers 429 at first: the operator must wait, not exit.
      assert.deepEqual(
        operators.map((p) => p.restarts),
        [0, 0],
        "operator containers restarted during the install",
      );
      const lead = await waitFor("an operator pod holding the leader Lease", 60_000, () => leader(c));
      assert.ok(
        operators.some((p) => p.name === lead),
        `leader ${lead} is not one of ${operators.map((p) => p.name).join(", ")}`,
      );

      await c.kubectl(["apply", "-f", "-"], { input: whoamiManifests() });
      await c.kubectl(["apply", "-f", "-"], { input: virtualIPManifest() });
      const master = await waitForOneMaster(c);
      assert.deepEqual(await holders(c), [master]);
      const table = (await c.kubectl(["get", "vip", "-n", VIP.namespace])).stdout;
      const row = table.split("\n").find((l) => l.startsWith(`${VIP.name} `));
      assert.ok(row?.includes(VIP.address) && row.split(/\s+/).includes(master), `kubectl get vip does not name ${master}:\n${table}`);
      probe = await startVipProbe(c);
    },
  );

  void test(
    "deleting the MASTER's agent pod moves the VIP; the DaemonSet's new pod on that node runs and comes back as BACKUP",
    { timeout: 240_000 },
    async () => {
      const master = await waitForOneMaster(c);
      const before = agentOn(await pods(c, "agent"), master);
      const from = monotonicNow();
      await c.kubectl(["delete", "pod", "-n", NAMESPACE, before.name, "--wait=false"]);
      const newMaster = await waitFor("another node holding the VIP", 60_000, async () => {
        const held = await holders(c);
        return held.length === 1 && held[0] !== master ? held[0] : undefined;
      });
      const again = await waitForOperatorAndAgents(c);
      const replacement = agentOn(again.agents, master);
      assert.notEqual(replacement.uid, before.uid, "the agent pod on the old MASTER was not replaced");
      await waitFor(`${master} BACKUP in the status again`, 60_000, async () => ((await vipStatus(c)).nodes[master] === "BACKUP" ? true : undefined));
      assert.equal(await waitForOneMaster(c), newMaster);
      console.log(`# agent pod delete: ${JSON.stringify(probe!.counts(from))}`);
    },
  );

  void test(
    "helm upgrade that changes the agent pod template rolls the DaemonSet one node at a time while the VIP keeps answering",
    { timeout: 420_000 },
    async () => {
      const before = await pods(c, "agent");
      const from = monotonicNow();
      const seenUnavailable: number[] = [];
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          const now = (await pods(c, "agent")).filter((p) => !p.deleting && p.phase === "Running" && p.ready);
          seenUnavailable.push(3 - now.length);
          await sleep(250);
        }
      })();
      try {
        await upgrade(c, { agent: { resources: { requests: { cpu: "20m", memory: "64Mi" }, limits: { memory: "256Mi" } } } });
        await waitFor("every agent pod replaced, Running and Ready", 300_000, async () => {
          const { agents } = await waitForOperatorAndAgents(c, 2, 300_000);
          return agents.every((a) => !before.some((b) => b.uid === a.uid)) ? agents : undefined;
        });
      } finally {
        sampling = false;
        await sampler;
      }
      const ds = JSON.parse((await c.kubectl(["get", "daemonset", "-n", NAMESPACE, "-l", "app.kubernetes.io/component=agent", "-o", "json"])).stdout) as {
        items: { spec: { template: { spec: { containers: { resources?: { requests?: Record<string, string> } }[] } } } }[];
      };
      assert.equal(ds.items[0]?.spec.template.spec.containers[0]?.resources?.requests?.cpu, "20m", "the DaemonSet's pod template did not change");
      assert.ok(Math.max(...seenUnavailable) <= 1, `more than one agent pod unavailable at once: ${JSON.stringify(seenUnavailable)}`);
      await waitForOneMaster(c);
      const counts = probe!.counts(from);
      console.log(`# helm upgrade rolling the agents: ${JSON.stringify(counts)}`);
      // Each node's agent stops once; the MASTER's stop costs one failover (about three 1 s adverts).
      assert.ok(counts.longestOutageMs < 10_000, `the VIP did not answer for ${counts.longestOutageMs} ms: ${JSON.stringify(counts)}`);
    },
  );

  void test("kubectl drain of the MASTER's node evicts the operator pods there and leaves the VIP answering", { timeout: 300_000 }, async () => {
    const master = await waitForOneMaster(c);
    const from = monotonicNow();
    await c.kubectl(["drain", master, "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=180s"], { timeoutMs: 200_000 });
    const { operators } = await waitForOperatorAndAgents(c);
    assert.ok(
      operators.every((p) => p.node !== master),
      `an operator pod still runs on the drained ${master}: ${JSON.stringify(operators)}`,
    );
    await waitFor("an operator leading after the drain", 60_000, () => leader(c));
    const now = await waitForOneMaster(c);
    const counts = probe!.counts(from);
    console.log(`# drain of ${master} (MASTER after: ${now}): ${JSON.stringify(counts)}`);
    assert.ok(counts.longestOutageMs < 10_000, `the VIP did not answer for ${counts.longestOutageMs} ms`);
    await c.kubectl(["uncordon", master]);
  });

  void test("a 20 s API server outage: the VIP keeps answering and no agent container restarts", { timeout: 300_000 }, async () => {
    await waitForOneMaster(c);
    const before = await restartCounts();
    const from = monotonicNow();
    await c.cp.stopApiServer();
    await sleep(20_000);
    await c.cp.startApiServer();
    const during = probe!.counts(from);
    // Long enough for a process that exited in the outage to be restarted and counted, and for liveness probes to act.
    await sleep(30_000);
    outage = { before, after: await restartCounts() };
    const agentsOnly = (r: Record<string, number>): Record<string, number> =>
      Object.fromEntries(Object.entries(r).filter(([name]) => name.startsWith("keepalived-vip-agent-")));
    assert.deepEqual(agentsOnly(outage.after), agentsOnly(before), "agent containers restarted across the API server outage");
    await waitForOneMaster(c);
    console.log(`# API server outage (20 s): ${JSON.stringify(during)}`);
    assert.equal(during.failed, 0, `requests to the VIP failed during the outage: ${JSON.stringify(during)}`);
  });

  // The operator neither exits on a watch failure nor over lost leadership
  // (ADR 0019): its watches retry with backoff and its leader steps down and
  // leads again, so the kubelet has nothing to restart.
  void test("a 20 s API server outage: no operator container restarts, and the operator is ready and leading after it", { timeout: 180_000 }, async () => {
    assert.ok(outage, "the outage test did not run");
    const operators = (r: Record<string, number>): Record<string, number> =>
      Object.fromEntries(Object.entries(r).filter(([name]) => name.startsWith("keepalived-vip-operator-")));
    const restarted = Object.keys(operators(outage.after)).filter((n) => outage!.after[n] !== outage!.before[n]);
    const why = await Promise.all(
      restarted.map(async (n) => {
        const lines = (await c.kubectl(["logs", "-n", NAMESPACE, n, "--previous", "--tail=100"], { check: false })).stdout
          .split("\n")
          .filter((l) => l.trim() !== "");
        const errors = lines.filter((l) => l.includes('"level":"error"'));
        return `${n}:\n${(errors.length > 0 ? errors : lines).slice(-3).join("\n")}`;
      }),
    );
    assert.deepEqual(
      operators(outage.after),
      operators(outage.before),
      `operator containers restarted; the last lines before each restart:\n${why.join("\n")}`,
    );
    // Readiness came back by itself, and one of the same pods leads.
    const ready = await waitFor("both operator pods Ready after the outage", 60_000, async () => {
      const list = await pods(c, "operator");
      return list.length === 2 && list.every((p) => p.ready) ? list : undefined;
    });
    const lead = await waitFor("an operator pod holding the leader Lease", 60_000, () => leader(c));
    assert.ok(
      ready.some((p) => p.name === lead),
      `leader ${lead} is not one of ${ready.map((p) => p.name).join(", ")}`,
    );
  });

  void test(
    "helm uninstall and the namespace's deletion (docs/upgrading.md) leave no VIP on any node and nothing but the CRD and the VirtualIPs",
    { timeout: 240_000 },
    async () => {
      await probe?.stop();
      probe = undefined;
      await c.helm(["uninstall", RELEASE, "-n", NAMESPACE, "--wait", "--timeout=120s"]);
      await c.kubectl(["delete", "namespace", NAMESPACE, "--wait=true", "--timeout=180s"], { timeoutMs: 200_000 });
      await waitFor("no node holding the VIP", 60_000, async () => ((await holders(c)).length === 0 ? true : undefined));
      const left = (
        await c.kubectl(["get", "clusterroles,clusterrolebindings,priorityclasses", "-l", `app.kubernetes.io/instance=${RELEASE}`, "-o", "name"])
      ).stdout.trim();
      assert.equal(left, "", `release objects left:\n${left}`);
      const named = (await c.kubectl(["get", "clusterroles,clusterrolebindings", "-o", "name"])).stdout.split("\n").filter((l) => l.includes("keepalived-vip"));
      assert.deepEqual(named, [], `cluster-wide objects of the release left: ${named.join(", ")}`);
      const ns = await c.kubectl(["get", "namespace", NAMESPACE], { check: false });
      assert.notEqual(ns.code, 0, "the namespace is still there");
      await c.kubectl(["get", "crd", "virtualips.keepalived-vip.io"]);
      await c.kubectl(["get", "virtualip", VIP.name, "-n", VIP.namespace]);
    },
  );

  void test(
    "kubectl apply --server-side -k config/default runs the same operator: the VirtualIP left behind is held and answers again",
    { timeout: 300_000 },
    async () => {
      await install(c, { method: "kustomize" });
      const { agents } = await waitForOperatorAndAgents(c);
      assert.equal(agents.length, 3);
      await waitFor("an operator pod holding the leader Lease", 60_000, () => leader(c));
      const master = await waitForOneMaster(c);
      assert.deepEqual(await holders(c), [master]);
    },
  );
});
