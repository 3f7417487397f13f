// The kustomize install (config/default): builds, matches the Helm chart's
// objects and operator settings, and applies to a real API server.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { parseArgs } from "node:util";
import yaml from "js-yaml";
import { OPERATOR_FLAGS } from "../../../src/operator/operator-flags.js";
import { parseOperatorOptions, type OperatorConfig } from "../../../src/operator/options.js";
import { kubectl, REPO_ROOT, resolveK8sBins, runCommand, startControlPlane, type ControlPlane } from "../../support/index.js";
import { CRD_FILE, NAMESPACE, PLAN_NAMESPACE, find, parseObjects, ref, renderChart, type Obj } from "./manifests.js";

interface Deployment extends Obj {
  spec: { replicas: number; template: { spec: { containers: { name: string; image: string; args: string[] }[] } } };
}

/** `kubectl kustomize <dir>` (no cluster needed); default config/default. */
async function buildKustomization(dir = join(REPO_ROOT, "config/default")): Promise<Obj[]> {
  const bins = await resolveK8sBins();
  const res = await runCommand(bins.kubectl, ["kustomize", dir], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin" } });
  return parseObjects(res.stdout);
}

/** The overlay docs/install.md shows for another registry, on top of config/default at `base`. */
function registryOverlay(base: string): string {
  return `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ${base}
images:
  - name: ghcr.io/keepalived-vip/keepalived-vip-operator
    newName: registry.example.com/keepalived-vip-operator
    newTag: 0.1.1
replacements:
  - source:
      kind: Deployment
      name: keepalived-vip-operator
      fieldPath: spec.template.spec.containers.[name=operator].image
    targets:
      - select:
          kind: Deployment
          name: keepalived-vip-operator
        fieldPaths:
          - spec.template.spec.containers.[name=operator].args.[=--agent-image=ghcr.io/keepalived-vip/keepalived-vip-operator:0.1.0]
        options:
          delimiter: "="
          index: 1
`;
}

function operatorOf(objs: Obj[]): { image: string; args: string[] } {
  const dep = find(objs, "Deployment", "keepalived-vip-operator") as Deployment;
  const c = dep.spec.template.spec.containers.find((x) => x.name === "operator");
  assert.ok(c, "an operator container");
  return c;
}

/** The settings the operator resolves from a container's args (with the pod's env). */
function settingsOf(args: string[]): OperatorConfig {
  assert.equal(args[0], "operator");
  const options = Object.fromEntries(OPERATOR_FLAGS.map((f) => [f.name, { type: "string" as const, multiple: f.multiple ?? false }]));
  const { values } = parseArgs({ args: args.slice(1), options, strict: true });
  const res = parseOperatorOptions({ flags: values, env: { POD_NAMESPACE: NAMESPACE, POD_NAME: "pod" }, defaultIdentity: "host_1" });
  assert.ok(res.ok, res.ok ? "" : res.errors.join("; "));
  return res.config;
}

void describe("kustomize config/default", () => {
  let built: Obj[];
  let chart: Obj[];
  before(async () => {
    built = await buildKustomization();
    chart = await renderChart();
  });

  void test("creates the same kinds, names and namespaces as the Helm chart, plus the CRD and the operator's namespace", () => {
    const names = (objs: Obj[]) => objs.map(ref).sort();
    const extra = built.filter((o) => o.kind === "CustomResourceDefinition" || o.kind === "Namespace");
    assert.deepEqual(names(extra), [
      "CustomResourceDefinition/virtualippools.keepalived-vip.io",
      "CustomResourceDefinition/virtualips.keepalived-vip.io",
      `Namespace/${PLAN_NAMESPACE}`,
      `Namespace/${NAMESPACE}`,
    ]);
    assert.deepEqual(names(built.filter((o) => !extra.includes(o))), names(chart.filter((o) => o.kind !== "Namespace")));
    const where = (objs: Obj[]) =>
      objs
        .filter((o) => o.metadata.namespace !== undefined)
        .map((o) => `${o.metadata.namespace ?? ""}/${ref(o)}`)
        .sort();
    assert.deepEqual(where(built), where(chart), "every object in the same namespace as with the chart");
  });

  void test("config/finalizer-policy builds to the chart's finalizer policy (operator.finalizerPolicy=true)", async () => {
    const policy = await buildKustomization(join(REPO_ROOT, "config/finalizer-policy"));
    const fromChart = (await renderChart({ operator: { finalizerPolicy: true } })).filter((o) => o.kind.startsWith("MutatingAdmissionPolicy"));
    assert.equal(fromChart.length, 2, "the chart renders the policy and its binding");
    assert.deepEqual(policy.map(ref).sort(), fromChart.map(ref).sort());
    for (const o of policy) assert.deepEqual(o.spec, fromChart.find((c) => ref(c) === ref(o))?.spec, `${ref(o)} differs from the chart's`);
    assert.ok(policy.every((o) => o.metadata.labels?.["app.kubernetes.io/managed-by"] === "kustomize"));
  });

  void test("every object kustomize writes says it is managed by kustomize", () => {
    const managers = built.map((o) => [ref(o), o.metadata.labels?.["app.kubernetes.io/managed-by"]]).filter(([, by]) => by !== undefined && by !== "kustomize");
    assert.deepEqual(managers, []);
  });

  void test("the CRD is the generated one", () => {
    const crd = find(built, "CustomResourceDefinition", "virtualips.keepalived-vip.io");
    assert.deepEqual(crd, yaml.load(readFileSync(CRD_FILE, "utf8")));
  });

  void test("the namespace admits the agent's host network and capabilities (Pod Security privileged); the plan's namespace admits no such Pod", () => {
    assert.equal(find(built, "Namespace", NAMESPACE).metadata.labels?.["pod-security.kubernetes.io/enforce"], "privileged");
    assert.equal(find(built, "Namespace", PLAN_NAMESPACE).metadata.labels?.["pod-security.kubernetes.io/enforce"], "restricted");
    assert.equal(find(chart, "Namespace", PLAN_NAMESPACE).metadata.labels?.["pod-security.kubernetes.io/enforce"], "restricted");
  });

  void test("operator and agent run the released image, as with the chart", () => {
    const k = operatorOf(built);
    const h = operatorOf(chart);
    assert.equal(k.image, "ghcr.io/keepalived-vip/keepalived-vip-operator:0.1.0");
    assert.equal(k.image, h.image);
    assert.equal(settingsOf(k.args).agent.image, k.image, "--agent-image follows the container image");
  });

  void test("the overlay shown in docs/install.md moves operator and agent to another registry", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kvo-overlay-"));
    try {
      writeFileSync(join(dir, "kustomization.yaml"), registryOverlay(relative(dir, join(REPO_ROOT, "config/default"))));
      const c = operatorOf(await buildKustomization(dir));
      assert.equal(c.image, "registry.example.com/keepalived-vip-operator:0.1.1");
      assert.equal(settingsOf(c.args).agent.image, "registry.example.com/keepalived-vip-operator:0.1.1");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const doc = readFileSync(join(REPO_ROOT, "docs/install.md"), "utf8");
    assert.ok(
      doc.includes(registryOverlay("github.com/keepalived-vip/keepalived-vip-operator/config/default?ref=v0.1.0")),
      "docs/install.md shows this overlay",
    );
  });

  void test("the operator resolves the same settings from either install", () => {
    const { identity: _k, ...fromKustomize } = settingsOf(operatorOf(built).args);
    const { identity: _h, ...fromChart } = settingsOf(operatorOf(chart).args);
    assert.deepEqual(fromKustomize, fromChart);
    assert.equal((find(built, "Deployment", "keepalived-vip-operator") as Deployment).spec.replicas, 2);
  });

  void describe("kubectl apply -k against a real API server", () => {
    let cp: ControlPlane;
    before(async () => {
      cp = await startControlPlane();
    });
    after(async () => {
      await cp?.stop();
    });

    void test("applies and creates every object", async () => {
      const res = await kubectl(cp, ["apply", "--server-side", "-k", join(REPO_ROOT, "config/default")], { check: false });
      assert.equal(res.code, 0, res.stderr);
      for (const o of built) {
        const args = ["get", o.kind, o.metadata.name, "-o", "name", ...(o.metadata.namespace ? ["-n", o.metadata.namespace] : [])];
        const got = await kubectl(cp, args, { check: false });
        assert.equal(got.code, 0, `${ref(o)} exists: ${got.stderr}`);
      }
      await kubectl(cp, ["wait", "--for=condition=Established", "--timeout=30s", "crd/virtualips.keepalived-vip.io"]);
    });

    void test("a second apply changes nothing", async () => {
      const res = await kubectl(cp, ["apply", "--server-side", "-k", join(REPO_ROOT, "config/default")]);
      const changed = res.stdout.split("\n").filter((l) => l.trim() !== "" && !/ (serverside-applied|unchanged)$/.test(l));
      assert.deepEqual(changed, []);
      const diff = await kubectl(cp, ["diff", "--server-side", "-k", join(REPO_ROOT, "config/default")], { check: false });
      assert.equal(diff.code, 0, `kubectl diff shows changes:\n${diff.stdout}${diff.stderr}`);
    });
  });
});
