// The shipped finalizer policy (config/finalizer-policy, ADR 0022) on a real
// API server with the operator running, once the operator opened its gate
// (ADR 0024; finalizer-gate.test.ts tests the gate): a new VirtualIP carries the
// operator's finalizer from its creation, so the operator writes only its
// status; a tenant's own finalizers stay; deletion still waits for the
// operator; a finalizer removed later is put back by the operator, not the policy.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { FINALIZER, GROUP, PLURAL, VERSION } from "../../../src/api/index.js";
import { k8s } from "../../../src/kube/client.js";
import {
  APP_NS,
  createNode,
  createService,
  deleteVip,
  eventually,
  installFinalizerPolicy,
  readVip,
  runOperator,
  startOperatorEnv,
  waitForFinalizerGate,
  waitForReady,
  type OperatorEnv,
  type OperatorProcess,
  type StoredVip,
} from "./harness.js";

let env: OperatorEnv;
let op: OperatorProcess;

const MERGE = { headers: { "Content-Type": k8s.PatchUtils.PATCH_FORMAT_JSON_MERGE_PATCH } };

before(async () => {
  env = await startOperatorEnv();
  await installFinalizerPolicy(env);
  await createNode(env, "node-a", { ip: "192.0.2.11" });
  for (const name of ["web", "api", "db"]) await createService(env, name);
  op = await runOperator(env, { identity: "op-1" });
  await waitForFinalizerGate(env);
});

after(async () => {
  await op?.stop();
  await env?.cp.stop();
});

/** Creates a VirtualIP as a tenant would (with `finalizers` of its own, if any); resolves the object as created. */
async function create(name: string, address: string, virtualRouterId: number, finalizers?: string[]): Promise<StoredVip> {
  const body = {
    apiVersion: `${GROUP}/${VERSION}`,
    kind: "VirtualIP",
    metadata: { name, namespace: APP_NS, ...(finalizers ? { finalizers } : {}) },
    spec: { serviceRef: { name }, address, virtualRouterId },
  };
  return (await env.admin.custom.createNamespacedCustomObject(GROUP, VERSION, APP_NS, PLURAL, body)).body as StoredVip;
}

/** The operator's patches of VirtualIP objects (finalizers) so far. */
async function finalizerWrites(): Promise<number> {
  return (await op.metrics()).get('keepalived_vip_operator_kube_writes_total{verb="patch",resource="virtualips"}') ?? 0;
}

async function setFinalizers(name: string, finalizers: string[]): Promise<void> {
  await env.admin.custom.patchNamespacedCustomObject(
    GROUP,
    VERSION,
    APP_NS,
    PLURAL,
    name,
    { metadata: { finalizers } },
    undefined,
    undefined,
    undefined,
    MERGE,
  );
}

void describe("the finalizer policy", () => {
  void test("a new VirtualIP has the operator's finalizer from its creation; the operator writes its status and not its finalizer", async () => {
    const writesBefore = await finalizerWrites();
    const created = await create("web", "192.0.2.50", 51);
    assert.deepEqual(created.metadata.finalizers, [FINALIZER]);
    await waitForReady(env, "web", "NoMaster");
    assert.equal(await finalizerWrites(), writesBefore, "the operator patched the finalizers of a VirtualIP that had its finalizer");
  });

  void test("a tenant's own finalizer stays beside it; deletion takes away only the operator's, once the operator let it go", async () => {
    const created = await create("api", "192.0.2.60", 61, ["example.com/keep"]);
    assert.deepEqual(created.metadata.finalizers, ["example.com/keep", FINALIZER]);
    await waitForReady(env, "api", "NoMaster");
    await deleteVip(env, "api");
    const left = await eventually(
      async () => {
        const v = await readVip(env, "api");
        return v && !(v.metadata.finalizers ?? []).includes(FINALIZER) ? v : undefined;
      },
      { what: "the operator's finalizer removed from api" },
    );
    assert.deepEqual(left.metadata.finalizers, ["example.com/keep"]);
    assert.ok(left.metadata.deletionTimestamp);
    await setFinalizers("api", []);
    await eventually(async () => ((await readVip(env, "api")) === undefined ? true : undefined), { what: "api gone" });
  });

  void test("a finalizer removed after the creation is put back by the operator (the policy acts on creation only)", async () => {
    await create("db", "192.0.2.70", 71);
    await waitForReady(env, "db", "NoMaster");
    const writesBefore = await finalizerWrites();
    await setFinalizers("db", []);
    const back = await eventually(
      async () => {
        const v = await readVip(env, "db");
        return v && (v.metadata.finalizers ?? []).includes(FINALIZER) ? v : undefined;
      },
      { what: "the finalizer of db back" },
    );
    assert.deepEqual(back.metadata.finalizers, [FINALIZER]);
    assert.equal(await finalizerWrites(), writesBefore + 1, "the operator's one patch put it back");
  });
});
