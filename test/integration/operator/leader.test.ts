// Two operator replicas side by side against a real API server: one leader
// writes, the other waits; SIGKILL of the leader hands over within the lease
// duration, SIGTERM at once (the Lease is released). Also: a failing watch
// never ends the process; readiness names it.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { freePort, kubectl, REPO_ROOT } from "../../support/index.js";
import { sleep, startDaemon, stopChild } from "../../support/process.js";
import {
  NS,
  createNode,
  createService,
  createVip,
  eventually,
  leaderHolder,
  runOperator,
  startOperatorEnv,
  waitForReady,
  type OperatorEnv,
  type OperatorProcess,
} from "./harness.js";

let env: OperatorEnv;
const procs: OperatorProcess[] = [];
/** Short durations so that the test does not wait 15 s per handover. */
const TIMING = ["--lease-duration=4s", "--renew-deadline=3s", "--retry-period=500ms"];

before(async () => {
  env = await startOperatorEnv();
  await createNode(env, "node-a", { ip: "192.0.2.11" });
  await createService(env, "web");
});

after(async () => {
  for (const p of procs) await p.stop();
  await env?.cp.stop();
});

async function start(identity: string): Promise<OperatorProcess> {
  const p = await runOperator(env, { identity, args: TIMING });
  procs.push(p);
  return p;
}

function byIdentity(id: string): OperatorProcess {
  const p = procs.find((x) => x.identity === id && !x.exited());
  assert.ok(p, `no running replica ${id}`);
  return p;
}

async function leaderMetric(p: OperatorProcess): Promise<number> {
  return (await p.metrics()).get("keepalived_vip_operator_leader") ?? -1;
}

void describe("leader election", () => {
  void test("of two replicas exactly one leads, and only the leader writes", async () => {
    await start("op-1");
    await start("op-2");
    const holder = await eventually(() => leaderHolder(env), { what: "a leader" });
    await createVip(env, "one", { service: "web", address: "192.0.2.50", virtualRouterId: 51 });
    await waitForReady(env, "one", "NoMaster");
    const leader = byIdentity(holder);
    const follower = procs.find((p) => p !== leader && !p.exited());
    assert.ok(follower);
    assert.equal(await leaderMetric(leader), 1);
    assert.equal(await leaderMetric(follower), 0);
    assert.ok((await leader.writes()) > 0);
    assert.equal(await follower.writes(), 0);
  });

  void test("SIGKILL of the leader: the other replica takes over within the lease duration and reconciles", async () => {
    const old = await leaderHolder(env);
    const killedAt = Date.now();
    await byIdentity(old).kill();
    const next = await eventually(
      async () => {
        const h = await leaderHolder(env);
        return h !== "" && h !== old ? h : undefined;
      },
      { timeoutMs: 15_000, intervalMs: 50, what: "a new leader" },
    );
    const took = Date.now() - killedAt;
    // Lease 4 s, measured from the takeover candidate's last sight of a renewal, plus one retry period.
    assert.ok(took < 4000 + 1500, `takeover took ${took} ms`);
    await createVip(env, "two", { service: "web", address: "192.0.2.51", virtualRouterId: 52 });
    await waitForReady(env, "two", "NoMaster");
    assert.ok((await byIdentity(next).writes()) > 0);
  });

  void test("SIGTERM of the leader releases the Lease: a replica takes over at once", async () => {
    await start("op-3");
    const old = await leaderHolder(env);
    const stoppedAt = Date.now();
    await byIdentity(old).stop();
    const next = await eventually(
      async () => {
        const h = await leaderHolder(env);
        return h !== "" && h !== old ? h : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 50, what: "a new leader" },
    );
    const took = Date.now() - stoppedAt;
    assert.equal(next, "op-3");
    assert.ok(took < 2000, `handover took ${took} ms`);
    assert.match(procs.find((p) => p.identity === old)?.log() ?? "", /Released the leader Lease/);
  });
});

void describe("failures", () => {
  void test("a watch the ServiceAccount may not open: the process keeps running, /readyz names the watch and why, the log says it retries", async () => {
    // A ServiceAccount that may list everything the operator reads but watch nothing: every watch fails with 403.
    const listOnly = [
      {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "ClusterRole",
        metadata: { name: "list-only" },
        rules: [
          { apiGroups: ["keepalived-vip.io"], resources: ["virtualips"], verbs: ["list"] },
          { apiGroups: [""], resources: ["services", "nodes"], verbs: ["list"] },
          { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["list"] },
          { apiGroups: [""], resources: ["secrets"], verbs: ["list"] },
          { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["list"] },
          { apiGroups: ["apps"], resources: ["daemonsets"], verbs: ["list"] },
        ],
      },
      {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "ClusterRoleBinding",
        metadata: { name: "list-only" },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "list-only" },
        subjects: [{ kind: "ServiceAccount", name: "list-only", namespace: NS }],
      },
    ];
    await kubectl(env.cp, ["apply", "-f", "-"], { input: listOnly.map((m) => JSON.stringify(m)).join("\n") });
    const kubeconfig = await env.cp.kubeconfigFor(NS, "list-only");
    const logFile = join(env.cp.dataDir, "operator-list-only.log");
    const port = await freePort();
    const child = startDaemon(
      process.execPath,
      [
        "--import",
        "tsx",
        join(REPO_ROOT, "src/main.ts"),
        "operator",
        `--kubeconfig=${kubeconfig}`,
        `--metrics-bind-address=127.0.0.1:${port}`,
        "--leader-elect=false",
      ],
      {
        logFile,
        cwd: REPO_ROOT,
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: env.cp.dataDir },
      },
    );
    try {
      const readyz = await eventually(
        async () => {
          assert.equal(child.exitCode, null, `the operator exited:\n${readFileSync(logFile, "utf8")}`);
          const res = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(5000) }).catch(() => undefined);
          if (!res) return undefined;
          const body = await res.text();
          return res.status === 503 && /\[-\]watches failed: .*VirtualIP: .*forbidden/i.test(body) ? body : undefined;
        },
        { timeoutMs: 30_000, what: "/readyz naming the forbidden watches" },
      );
      assert.match(readyz, /\[-\]synced failed/);
      // Still running after several retries.
      await sleep(5000);
      assert.equal(child.exitCode, null);
      assert.equal(child.signalCode, null);
      const log = readFileSync(logFile, "utf8");
      assert.match(log, /"message":"Watch failed, retrying"/);
      assert.match(log, /forbidden/i);
      assert.doesNotMatch(log, /exiting/i);
    } finally {
      await stopChild(child, 15_000);
    }
  });
});
