// ServiceAccount tokens minted through the TokenRequest API are authorised
// exactly as the Roles and RoleBindings say: RBAC is real in the test cluster.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import * as k8s from "@kubernetes/client-node";
import { GROUP, PLURAL, VERSION } from "../../../src/api/constants.js";
import { installProjectCRDs, kubectl, startControlPlane, type ControlPlane } from "../../support/index.js";

const NS = "rbac-test";
const SA = "reader";

let cp: ControlPlane;
let token: string;
let kubeconfig: string;

before(async () => {
  cp = await startControlPlane();
  await installProjectCRDs(cp);
  await cp.ensureNamespace(NS);
  const manifests = [
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name: "reader", namespace: NS },
      rules: [
        { apiGroups: [""], resources: ["configmaps"], verbs: ["get", "list"] },
        { apiGroups: [GROUP], resources: [PLURAL], verbs: ["get", "list", "watch"] },
        { apiGroups: [GROUP], resources: [`${PLURAL}/status`], verbs: ["patch"] },
      ],
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name: "reader", namespace: NS },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "reader" },
      subjects: [{ kind: "ServiceAccount", name: SA, namespace: NS }],
    },
  ];
  await kubectl(cp, ["apply", "-f", "-"], { input: manifests.map((m) => JSON.stringify(m)).join("\n") });
  token = await cp.tokenFor(NS, SA);
  kubeconfig = await cp.kubeconfigFor(NS, SA);
});

after(async () => {
  await cp?.stop();
});

const user = `system:serviceaccount:${NS}:${SA}`;

void describe("ServiceAccount token from TokenRequest", () => {
  void test("authenticates as the ServiceAccount", async () => {
    const res = await kubectl(cp, ["auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"], { kubeconfig });
    assert.equal(res.stdout, user);
  });

  const canI: { args: string[]; want: "yes" | "no" }[] = [
    { args: ["list", "configmaps", "-n", NS], want: "yes" },
    { args: ["get", "configmaps", "-n", NS], want: "yes" },
    { args: ["create", "configmaps", "-n", NS], want: "no" },
    { args: ["delete", "configmaps", "-n", NS], want: "no" },
    { args: ["list", "configmaps", "-n", "default"], want: "no" },
    { args: ["watch", `${PLURAL}.${GROUP}`, "-n", NS], want: "yes" },
    { args: ["patch", `${PLURAL}.${GROUP}`, "--subresource=status", "-n", NS], want: "yes" },
    { args: ["patch", `${PLURAL}.${GROUP}`, "-n", NS], want: "no" },
    { args: ["list", "secrets", "-n", NS], want: "no" },
  ];
  for (const c of canI) {
    void test(`kubectl auth can-i ${c.args.join(" ")} says ${c.want}`, async () => {
      const res = await kubectl(cp, ["auth", "can-i", ...c.args], { kubeconfig, check: false });
      assert.equal(res.stdout.trim(), c.want, res.stderr);
      assert.equal(res.code, c.want === "yes" ? 0 : 1);
    });
  }

  void test("an allowed request succeeds with the token", async () => {
    await kubectl(cp, ["create", "configmap", "visible", "-n", NS, "--from-literal=a=b"]);
    const res = await kubectl(cp, ["get", "configmaps", "-n", NS, "-o", "name"], { kubeconfig });
    assert.match(res.stdout, /configmap\/visible/);
  });

  void test("a denied request gets 403 Forbidden naming the ServiceAccount and verb", async () => {
    const res = await kubectl(cp, ["create", "configmap", "nope", "-n", NS, "--from-literal=a=b"], { kubeconfig, check: false });
    assert.notEqual(res.code, 0);
    assert.match(res.stderr, new RegExp(`forbidden: User "${user}" cannot create resource "configmaps"`));
  });

  void test("the client library sees the same decisions as status codes", async () => {
    const kc = await cp.clientConfigFor(NS, SA);
    const custom = kc.makeApiClient(k8s.CustomObjectsApi);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const status = (p: Promise<{ response: { statusCode?: number } }>): Promise<number | undefined> =>
      p.then(
        (r) => r.response.statusCode,
        (e: unknown) => (e as { statusCode?: number }).statusCode,
      );
    assert.equal(await status(custom.listNamespacedCustomObject(GROUP, VERSION, NS, PLURAL)), 200);
    assert.equal(await status(custom.listNamespacedCustomObject(GROUP, VERSION, "default", PLURAL)), 403);
    assert.equal(await status(core.listNamespacedSecret(NS)), 403);
    assert.equal(await status(core.deleteNamespacedConfigMap("visible", NS)), 403);
  });

  void test("a ServiceAccount without a binding is denied what the bound one may do", async () => {
    const other = await cp.tokenFor(NS, "unbound");
    const res = await kubectl(cp, ["auth", "can-i", "list", "configmaps", "-n", NS, `--token=${other}`], { kubeconfig, check: false });
    assert.equal(res.stdout.trim(), "no");
  });

  void test("a forged token is rejected as Unauthorized", async () => {
    const forged = token.slice(0, -4) + (token.endsWith("AAAA") ? "BBBB" : "AAAA");
    const res = await kubectl(cp, ["get", "configmaps", "-n", NS, `--token=${forged}`], { kubeconfig, check: false });
    assert.notEqual(res.code, 0);
    assert.match(res.stderr, /Unauthorized|must be logged in/);
  });
});
