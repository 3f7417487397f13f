// The finalizer policy's gate (ADR 0024) on a real API server. The CRDs and
// the shipped policy are created together, as `helm install` does, and a
// tenant's creates follow at once: while the API server has not loaded the new
// CRD's schema it refuses every create the policy acts on (503), so the policy
// must act on none of the tenant's until the operator opened the gate. The
// operator's dry-run probe, which the policy does act on, shows the window:
// how often it was refused is logged. Then the operator opens the gate and
// the tenant's creates carry the finalizer.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import {
  ANNOTATION_FINALIZER_POLICY,
  FINALIZER,
  FINALIZER_POLICY_OPEN,
  GROUP,
  LABEL_PROBE,
  PLURAL,
  PROBE_FINALIZER_POLICY,
  VERSION,
} from "../../../src/api/index.js";
import { createKubeClients, errorStatus } from "../../../src/kube/client.js";
import { kubectl, PROJECT_CRD_FILES, startControlPlane } from "../../support/index.js";
import {
  APP_NS,
  NS,
  OPERATOR_SA,
  finalizerPolicyManifest,
  operatorRbacFiles,
  runOperator,
  waitForFinalizerGate,
  type OperatorEnv,
  type OperatorProcess,
} from "./harness.js";

let env: OperatorEnv;
let op: OperatorProcess | undefined;

/** What the creates right after the install met. */
const window = { tenantCreates: 0, tenantRefused: 0, tenantMutated: 0, probesRefused: 0, probeWorkedAfterMs: -1 };

/** A dry-run create of a VirtualIP in the tenant's namespace: "refused" (503), else whether it came back with the finalizer. */
async function dryRunCreate(labels: Record<string, string>): Promise<"refused" | "mutated" | "plain"> {
  const body = { apiVersion: `${GROUP}/${VERSION}`, kind: "VirtualIP", metadata: { generateName: "web-", labels }, spec: { serviceRef: { name: "web" } } };
  try {
    const res = await env.admin.custom.createNamespacedCustomObject(GROUP, VERSION, APP_NS, PLURAL, body, undefined, "All");
    return ((res.body as { metadata?: { finalizers?: string[] } }).metadata?.finalizers ?? []).includes(FINALIZER) ? "mutated" : "plain";
  } catch (err) {
    if (errorStatus(err) === 503) return "refused";
    throw err;
  }
}

before(async () => {
  const cp = await startControlPlane();
  try {
    await cp.ensureNamespace(NS);
    const rbac = operatorRbacFiles()
      .map((f) => readFileSync(f, "utf8").replaceAll("keepalived-vip-nodes", NS))
      .join("\n---\n");
    await kubectl(cp, ["apply", "-f", "-"], { input: rbac });
    env = { cp, admin: createKubeClients({ kubeconfig: cp.kubeconfigPath }), operatorKubeconfig: await cp.kubeconfigFor(NS, OPERATOR_SA) };
    // The CRDs and the policy in one apply, then creates at once, for 15 s or until the probe works.
    const crds = PROJECT_CRD_FILES.map((f) => readFileSync(f, "utf8")).join("\n---\n");
    await kubectl(cp, ["apply", "--server-side", "-f", "-"], { input: `${crds}\n---\n${finalizerPolicyManifest(NS)}` });
    const start = Date.now();
    while (Date.now() - start < 15_000) {
      let tenant: Awaited<ReturnType<typeof dryRunCreate>>;
      try {
        tenant = await dryRunCreate({});
      } catch (err) {
        // 404 until the API server serves the new kind.
        if (errorStatus(err) === 404) continue;
        throw err;
      }
      window.tenantCreates++;
      if (tenant === "refused") window.tenantRefused++;
      if (tenant === "mutated") window.tenantMutated++;
      const probe = await dryRunCreate({ [LABEL_PROBE]: PROBE_FINALIZER_POLICY });
      if (probe === "refused") window.probesRefused++;
      if (probe === "mutated") {
        window.probeWorkedAfterMs = Date.now() - start;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    console.log(`# after the install: ${JSON.stringify(window)}`);
  } catch (err) {
    await cp.stop();
    throw err;
  }
});

after(async () => {
  await op?.stop();
  await env?.cp.stop();
});

void describe("the finalizer policy's gate", () => {
  void test("right after the install, no tenant create is refused, and the shut policy adds nothing", () => {
    assert.ok(window.tenantCreates > 0, "the loop made creates");
    assert.equal(window.tenantRefused, 0, `tenant creates refused: ${JSON.stringify(window)}`);
    assert.equal(window.tenantMutated, 0, "the policy acted before its gate was open");
    assert.ok(window.probeWorkedAfterMs >= 0, `the probe never came back with the finalizer within 15 s: ${JSON.stringify(window)}`);
  });

  void test("the operator opens the gate with its probe, and then a tenant's create carries the finalizer", async () => {
    op = await runOperator(env, { identity: "op-1" });
    const ms = await waitForFinalizerGate(env);
    console.log(`# the gate opened ${ms} ms after the operator started`);
    const ns = await env.admin.core.readNamespace(NS);
    assert.equal(ns.body.metadata?.annotations?.[ANNOTATION_FINALIZER_POLICY], FINALIZER_POLICY_OPEN);
    assert.equal(await dryRunCreate({}), "mutated");
    assert.match(op.log(), /Opened the finalizer policy/);
  });
});
