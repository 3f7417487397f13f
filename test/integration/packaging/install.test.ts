// `helm install` and `helm uninstall` of the chart against a real API server,
// and the installed RBAC exercised with the agent's own ServiceAccount token.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import * as k8s from "@kubernetes/client-node";
import { kubectl, podBoundClientConfig, startControlPlane, type ControlPlane } from "../../support/index.js";
import { CHART_DIR, NAMESPACE, PLAN_NAMESPACE, helm, ref, renderChart, type Obj } from "./manifests.js";

const RELEASE = "kvo";
const CRD_NAME = "virtualips.keepalived-vip.io";
const NODE = "node-a";

let cp: ControlPlane;
let rendered: Obj[];

before(async () => {
  cp = await startControlPlane();
  // This API server serves MutatingAdmissionPolicy v1 (Kubernetes 1.36+), so helm install with the default
  // operator.finalizerPolicy=auto installs the finalizer policy too: rendered as helm install sees the cluster.
  rendered = await renderChart({}, ["--api-versions", "admissionregistration.k8s.io/v1/MutatingAdmissionPolicy"]);
  assert.ok(
    rendered.some((o) => o.kind === "MutatingAdmissionPolicy"),
    "the rendering holds the finalizer policy",
  );
});

after(async () => {
  await cp?.stop();
});

/** kubectl get of one object; resolves whether it exists. */
async function exists(o: { kind: string; name: string; namespace?: string }): Promise<boolean> {
  const args = ["get", o.kind, o.name, "-o", "name", ...(o.namespace ? ["-n", o.namespace] : [])];
  const res = await kubectl(cp, args, { check: false });
  if (res.code !== 0 && !/NotFound/.test(res.stderr)) throw new Error(`kubectl ${args.join(" ")}: ${res.stderr}`);
  return res.code === 0;
}

function located(o: Obj): { kind: string; name: string; namespace?: string } {
  return { kind: o.kind, name: o.metadata.name, ...(o.metadata.namespace === undefined ? {} : { namespace: o.metadata.namespace }) };
}

const objects = (objs: object[]): string => objs.map((o) => JSON.stringify(o)).join("\n");

const MERGE_PATCH = { headers: { "Content-Type": "application/merge-patch+json" } };
const APPLY_PATCH = { headers: { "Content-Type": "application/apply-patch+yaml" } };

interface AgentApis {
  core: k8s.CoreV1Api;
  custom: k8s.CustomObjectsApi;
  coordination: k8s.CoordinationV1Api;
  apps: k8s.AppsV1Api;
}

/** 200 when the request succeeded (any 2xx), else the HTTP status of the failure. */
async function statusOf(call: Promise<unknown>): Promise<number> {
  try {
    await call;
    return 200;
  } catch (err) {
    const code = (err as { statusCode?: number }).statusCode;
    if (code === undefined) throw err;
    return code;
  }
}

void describe("helm install into a real API server", () => {
  void test("installs the CRD and every object of the chart", async () => {
    const res = await helm(["install", RELEASE, CHART_DIR, "-n", NAMESPACE, "--create-namespace", "--timeout", "60s"], {
      kubeconfig: cp.kubeconfigPath,
    });
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /kubectl get vip -A -w/, "NOTES tell the user what to do next");
    await kubectl(cp, ["wait", "--for=condition=Established", "--timeout=30s", `crd/${CRD_NAME}`]);
    for (const o of rendered) assert.ok(await exists(located(o)), `${ref(o)} was created`);
    const status = await helm(["status", RELEASE, "--namespace", NAMESPACE, "-o", "json"], { kubeconfig: cp.kubeconfigPath });
    assert.equal((JSON.parse(status.stdout) as { info: { status: string } }).info.status, "deployed");
  });

  void test("the installed Deployment runs the operator with leader election as keepalived-vip-operator", async () => {
    const res = await kubectl(cp, ["get", "deployment", "keepalived-vip-operator", "-n", NAMESPACE, "-o", "json"]);
    const dep = JSON.parse(res.stdout) as { spec: { replicas: number; template: { spec: { serviceAccountName: string; containers: { args: string[] }[] } } } };
    assert.equal(dep.spec.replicas, 2);
    assert.equal(dep.spec.template.spec.serviceAccountName, "keepalived-vip-operator");
    assert.ok(dep.spec.template.spec.containers[0]?.args.includes("--leader-elect=true"));
  });

  void describe("the agent's ServiceAccount token", () => {
    let api: AgentApis;
    before(async () => {
      // Just after the CRD is installed, with the finalizer policy installed and its gate shut (no operator runs
      // here, ADR 0024): the first create goes through at once, not refused while the API server loads the schema.
      await kubectl(cp, ["apply", "-f", "-"], {
        input: objects([
          { apiVersion: "v1", kind: "Node", metadata: { name: NODE } },
          { apiVersion: "v1", kind: "Secret", metadata: { name: `keepalived-vip-node-${NODE}`, namespace: PLAN_NAMESPACE }, stringData: { "node.json": "{}" } },
          { apiVersion: "v1", kind: "Secret", metadata: { name: "vrrp-auth", namespace: "default" }, stringData: { password: "s3cret" } },
          {
            apiVersion: "keepalived-vip.io/v1alpha1",
            kind: "VirtualIP",
            metadata: { name: "web", namespace: "default" },
            spec: { serviceRef: { name: "web" }, address: "192.0.2.50", virtualRouterId: 51 },
          },
        ]),
      });
      // The chart created the ServiceAccount; this mints a token for it bound to an agent Pod on NODE, as the kubelet does.
      const kc = await podBoundClientConfig(cp, { namespace: NAMESPACE, serviceAccount: "keepalived-vip-agent", node: NODE });
      api = {
        core: kc.makeApiClient(k8s.CoreV1Api),
        custom: kc.makeApiClient(k8s.CustomObjectsApi),
        coordination: kc.makeApiClient(k8s.CoordinationV1Api),
        apps: kc.makeApiClient(k8s.AppsV1Api),
      };
    });

    // Every call is the one HTTP request named, so a denial is the verb's own (kubectl patch would GET first).
    const secretName = `keepalived-vip-node-${NODE}`;
    const cases: { name: string; allowed: boolean; act: (a: AgentApis) => Promise<unknown> }[] = [
      {
        name: "may apply its own entry of a VirtualIP's status.nodes (server-side apply, as the agent does)",
        allowed: true,
        act: (a) =>
          a.custom.patchNamespacedCustomObjectStatus(
            "keepalived-vip.io",
            "v1alpha1",
            "default",
            "virtualips",
            "web",
            {
              apiVersion: "keepalived-vip.io/v1alpha1",
              kind: "VirtualIP",
              metadata: { name: "web", namespace: "default" },
              status: { nodes: [{ name: NODE, state: "MASTER", priority: 100 }] },
            },
            undefined,
            `keepalived-vip-agent/${NODE}`,
            true,
            APPLY_PATCH,
          ),
      },
      { name: "may read its node-config Secret in the plan's namespace", allowed: true, act: (a) => a.core.readNamespacedSecret(secretName, PLAN_NAMESPACE) },
      {
        name: "may list its node-config Secret by field selector (for a watch)",
        allowed: true,
        act: (a) => a.core.listNamespacedSecret(PLAN_NAMESPACE, undefined, undefined, undefined, `metadata.name=${secretName}`),
      },
      {
        name: "may list the instance Secrets by label selector (for a watch)",
        allowed: true,
        act: (a) => a.core.listNamespacedSecret(PLAN_NAMESPACE, undefined, undefined, undefined, undefined, "app.kubernetes.io/component=instance-config"),
      },
      {
        name: "may create its heartbeat Lease in the plan's namespace",
        allowed: true,
        act: (a) =>
          a.coordination.createNamespacedLease(PLAN_NAMESPACE, {
            metadata: { name: `keepalived-vip-agent-${NODE}`, namespace: PLAN_NAMESPACE },
            spec: { holderIdentity: NODE },
          }),
      },
      { name: "may not read Secrets in the release namespace", allowed: false, act: (a) => a.core.listNamespacedSecret(NAMESPACE) },
      {
        name: "may not read the operator's leader Lease",
        allowed: false,
        act: (a) => a.coordination.readNamespacedLease("keepalived-vip-operator-leader", NAMESPACE),
      },
      {
        name: "may not patch a VirtualIP's spec",
        allowed: false,
        act: (a) =>
          a.custom.patchNamespacedCustomObject(
            "keepalived-vip.io",
            "v1alpha1",
            "default",
            "virtualips",
            "web",
            { spec: { virtualRouterId: 52 } },
            undefined,
            undefined,
            undefined,
            MERGE_PATCH,
          ),
      },
      { name: "may not read a Secret in another namespace", allowed: false, act: (a) => a.core.readNamespacedSecret("vrrp-auth", "default") },
      {
        name: "may not patch a Node",
        allowed: false,
        act: (a) => a.core.patchNode(NODE, { metadata: { labels: { owned: "yes" } } }, undefined, undefined, undefined, undefined, undefined, MERGE_PATCH),
      },
      {
        name: "may not create Secrets in the plan's namespace",
        allowed: false,
        act: (a) => a.core.createNamespacedSecret(PLAN_NAMESPACE, { metadata: { name: "stolen", namespace: PLAN_NAMESPACE }, stringData: { a: "b" } }),
      },
      { name: "may not delete the agent DaemonSet", allowed: false, act: (a) => a.apps.deleteNamespacedDaemonSet("keepalived-vip-agent", NAMESPACE) },
    ];
    for (const c of cases) {
      void test(c.name, async () => {
        const status = await statusOf(c.act(api));
        assert.equal(status, c.allowed ? 200 : 403, c.allowed ? "allowed" : "Forbidden");
      });
    }

    void test("the status entry landed; the spec and the Node did not change", async () => {
      const vip = await kubectl(cp, [
        "get",
        "virtualip",
        "web",
        "-n",
        "default",
        "-o",
        "jsonpath={.status.nodes[0].name}={.status.nodes[0].state}/{.spec.virtualRouterId}",
      ]);
      assert.equal(vip.stdout, `${NODE}=MASTER/51`);
      const node = await kubectl(cp, ["get", "node", NODE, "-o", "jsonpath={.metadata.labels}"]);
      assert.doesNotMatch(node.stdout, /owned/);
    });
  });

  void test("the operator's token is bound by the chart's RBAC: its namespace only for DaemonSets, the plan's for config Secrets, get-only for other Secrets", async () => {
    const operator = await cp.kubeconfigFor(NAMESPACE, "keepalived-vip-operator");
    const canI = async (args: string[]): Promise<string> =>
      (await kubectl(cp, ["auth", "can-i", ...args], { kubeconfig: operator, check: false })).stdout.trim();
    assert.equal(await canI(["create", "daemonsets.apps", "-n", NAMESPACE]), "yes");
    assert.equal(await canI(["create", "daemonsets.apps", "-n", "default"]), "no");
    assert.equal(await canI(["create", "secrets", "-n", PLAN_NAMESPACE]), "yes");
    assert.equal(await canI(["watch", "leases.coordination.k8s.io", "-n", PLAN_NAMESPACE]), "yes");
    assert.equal(await canI(["update", "leases.coordination.k8s.io", "-n", PLAN_NAMESPACE]), "no");
    assert.equal(await canI(["update", "leases.coordination.k8s.io", "-n", NAMESPACE]), "yes");
    assert.equal(await canI(["list", "secrets", "-n", NAMESPACE]), "no");
    assert.equal(await canI(["patch", "virtualips.keepalived-vip.io", "--subresource=status", "-n", "default"]), "yes");
    assert.equal(await canI(["get", "secrets", "-n", "default"]), "yes");
    assert.equal(await canI(["list", "secrets", "-n", "default"]), "no");
    assert.equal(await canI(["patch", "services", "-n", "default"]), "no");
  });

  void test("helm uninstall removes every object it created; the CRD and VirtualIPs stay", async () => {
    const res = await helm(["uninstall", RELEASE, "--namespace", NAMESPACE, "--timeout", "60s"], { kubeconfig: cp.kubeconfigPath });
    assert.equal(res.code, 0, res.stderr);
    for (const o of rendered.filter((x) => x.kind !== "Namespace")) assert.equal(await exists(located(o)), false, `${ref(o)} was removed`);
    // A namespace goes through Terminating (finished by the namespace controller, which this control plane does not run).
    const plan = await kubectl(cp, ["get", "namespace", PLAN_NAMESPACE, "-o", "jsonpath={.metadata.deletionTimestamp}"], { check: false });
    assert.ok(plan.code !== 0 || plan.stdout !== "", `the plan's namespace is being deleted: ${plan.stdout}${plan.stderr}`);
    assert.ok(await exists({ kind: "crd", name: CRD_NAME }), "the CRD stays (Helm never deletes crds/)");
    assert.ok(await exists({ kind: "virtualip", name: "web", namespace: "default" }), "VirtualIPs stay");
  });
});
