// The control-plane harness itself: the real version answers, an API outage
// can be simulated on a running cluster, two clusters run side by side, and
// stop() leaves no process and no directory behind.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import * as k8s from "@kubernetes/client-node";
import { kubectl, REPO_ROOT, startControlPlane, type ControlPlane } from "../../support/index.js";

function alive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Resolves the HTTP status of a namespace GET, or the error code ("ECONNREFUSED") when there is no server. */
async function probe(cp: ControlPlane): Promise<number | string> {
  try {
    const res = await cp.kc.makeApiClient(k8s.CoreV1Api).readNamespace("default");
    return res.response.statusCode ?? 0;
  } catch (err) {
    const e = err as { statusCode?: number; code?: string; cause?: { code?: string } };
    return e.statusCode ?? e.code ?? e.cause?.code ?? String(err);
  }
}

let cp: ControlPlane;

before(async () => {
  cp = await startControlPlane();
  console.log(`Control plane ready in ${cp.startupMs} ms`);
});

after(async () => {
  await cp?.stop();
});

void describe("startControlPlane", () => {
  void test("serves the Kubernetes version the binaries were built from", async () => {
    const goMod = readFileSync(join(REPO_ROOT, "test/k8s-bins/go.mod"), "utf8");
    const want = /^\s*k8s\.io\/kubernetes (v\d+\.\d+\.\d+)$/m.exec(goMod)?.[1];
    assert.ok(want, "no k8s.io/kubernetes version in test/k8s-bins/go.mod");
    const res = await kubectl(cp, ["get", "--raw", "/version"]);
    const version = JSON.parse(res.stdout) as { gitVersion: string };
    assert.equal(version.gitVersion, want);
  });

  void test("admin is cluster-admin and the API server serves on loopback with our CA", async () => {
    assert.match(cp.server, /^https:\/\/127\.0\.0\.1:\d+$/);
    const res = await kubectl(cp, ["auth", "can-i", "*", "*", "--all-namespaces"]);
    assert.equal(res.stdout.trim(), "yes");
  });

  void test("the default and system namespaces exist without a controller-manager", async () => {
    const res = await kubectl(cp, ["get", "namespaces", "-o", "name"]);
    for (const ns of ["default", "kube-system", "kube-public", "kube-node-lease"]) assert.ok(res.stdout.includes(`namespace/${ns}\n`), `${ns} missing`);
  });

  void test("stopApiServer makes the API unreachable while etcd keeps running; startApiServer restores it with the data", async () => {
    await kubectl(cp, ["create", "configmap", "before-outage", "-n", "default", "--from-literal=k=v"]);
    const etcdPid = cp.pids().etcd;
    await cp.stopApiServer();
    assert.equal(cp.pids().apiServer, undefined);
    assert.equal(await probe(cp), "ECONNREFUSED");
    assert.ok(alive(etcdPid), "etcd died with the API server");
    await cp.startApiServer();
    assert.equal(await probe(cp), 200);
    assert.equal(cp.pids().etcd, etcdPid);
    const res = await kubectl(cp, ["get", "configmap", "before-outage", "-n", "default", "-o", "jsonpath={.data.k}"]);
    assert.equal(res.stdout, "v");
  });

  void test("a second control plane runs beside the first and shares nothing with it", async () => {
    const other = await startControlPlane();
    try {
      assert.notEqual(other.port, cp.port);
      await other.ensureNamespace("only-in-other");
      const res = await kubectl(cp, ["get", "namespace", "only-in-other"], { check: false });
      assert.match(res.stderr, /NotFound/);
    } finally {
      await other.stop();
    }
  });

  void test("stop() ends etcd and kube-apiserver and removes the data directory", async () => {
    const other = await startControlPlane();
    const { etcd, apiServer } = other.pids();
    assert.ok(alive(etcd) && alive(apiServer));
    assert.ok(existsSync(join(other.dataDir, "kube-apiserver.log")));
    await other.stop();
    assert.ok(!alive(etcd), "etcd still running");
    assert.ok(!alive(apiServer), "kube-apiserver still running");
    assert.ok(!existsSync(other.dataDir), `${other.dataDir} left behind`);
  });
});
