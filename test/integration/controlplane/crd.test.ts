// The generated VirtualIP CRD against a real kube-apiserver: it installs, the
// samples apply, invalid objects are rejected by the server with the schema's
// messages, printer columns and `kubectl explain` work.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import * as k8s from "@kubernetes/client-node";
import yaml from "js-yaml";
import { GROUP, PLURAL, VERSION } from "../../../src/api/constants.js";
import { installCRDs, kubectl, REPO_ROOT, startControlPlane, type ControlPlane } from "../../support/index.js";

const CRD_FILE = join(REPO_ROOT, "crds/keepalived-vip.io_virtualips.yaml");
const POOL_CRD_FILE = join(REPO_ROOT, "crds/keepalived-vip.io_virtualippools.yaml");
const SAMPLES_DIR = join(REPO_ROOT, "config/samples");
const NS = "crd-test";

let cp: ControlPlane;

before(async () => {
  cp = await startControlPlane();
  console.log(`Control plane ready in ${cp.startupMs} ms`);
  await cp.ensureNamespace(NS);
});

after(async () => {
  await cp?.stop();
});

function vip(name: string, spec: Record<string, unknown>): Record<string, unknown> {
  return { apiVersion: `${GROUP}/${VERSION}`, kind: "VirtualIP", metadata: { name, namespace: NS }, spec };
}

const validSpec = { serviceRef: { name: "web" }, address: "192.0.2.50", virtualRouterId: 51 };

void describe("VirtualIP CRD", () => {
  void test("installs and becomes Established", async () => {
    const names = await installCRDs(cp, [CRD_FILE, POOL_CRD_FILE]);
    assert.deepEqual(names, [`${PLURAL}.${GROUP}`, `virtualippools.${GROUP}`]);
    const res = await kubectl(cp, ["get", "crd", `${PLURAL}.${GROUP}`, "-o", 'jsonpath={.status.conditions[?(@.type=="Established")].status}']);
    assert.equal(res.stdout, "True");
  });

  const samples = readdirSync(SAMPLES_DIR)
    .filter((f) => f.endsWith(".yaml") && f !== "kustomization.yaml")
    .sort();
  void test("there are samples to apply", () => {
    assert.ok(samples.length > 0, `no samples in ${SAMPLES_DIR}`);
  });
  for (const file of samples) {
    void test(`sample ${file} applies with kubectl apply`, async () => {
      const res = await kubectl(cp, ["apply", "-f", join(SAMPLES_DIR, file)]);
      assert.match(res.stdout, /virtualip(pool)?\.keepalived-vip\.io\/\S+ (created|configured|unchanged)/);
    });
  }
  void test("the samples kustomization applies with kubectl apply -k", async () => {
    const res = await kubectl(cp, ["apply", "-k", SAMPLES_DIR]);
    assert.match(res.stdout, /virtualip\.keepalived-vip\.io\//);
  });
});

void describe("API server rejects invalid VirtualIPs", () => {
  const cases: { name: string; spec: Record<string, unknown>; message: string }[] = [
    {
      name: "address-with-prefix",
      spec: { ...validSpec, address: "192.0.2.1/32" },
      message: "spec.address: Invalid value: address must be an IPv4 or IPv6 address in canonical form, without prefix length",
    },
    {
      name: "router-id-zero",
      spec: { ...validSpec, virtualRouterId: 0 },
      message: "spec.virtualRouterId: Invalid value: 0: spec.virtualRouterId in body should be greater than or equal to 1",
    },
    {
      name: "router-id-256",
      spec: { ...validSpec, virtualRouterId: 256 },
      message: "spec.virtualRouterId: Invalid value: 256: spec.virtualRouterId in body should be less than or equal to 255",
    },
    {
      name: "auth-with-vrrp3",
      spec: { ...validSpec, vrrp: { version: 3, authSecretRef: { name: "vrrp", key: "password" } } },
      message: "spec.vrrp.authSecretRef: Invalid value: authSecretRef is only supported with VRRP version 2",
    },
    {
      name: "preempt-delay-without-preempt",
      spec: { ...validSpec, vrrp: { preemptDelay: "30s" } },
      message: "spec.vrrp.preemptDelay: Invalid value: preemptDelay needs preempt: true",
    },
    {
      name: "preempt-delay-over-1000s",
      spec: { ...validSpec, vrrp: { preempt: true, preemptDelay: "1000001ms" } },
      message: "spec.vrrp.preemptDelay: Invalid value: preemptDelay must be at most 1000s",
    },
    {
      name: "interface-with-newline",
      spec: { ...validSpec, interface: "eth0\nvrrp" },
      message: "spec.interface in body should match '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$'",
    },
    {
      name: "sub-second-advert-with-vrrp2",
      spec: { ...validSpec, vrrp: { version: 2, advertisementInterval: "100ms" } },
      message: "spec.vrrp.advertisementInterval: Invalid value: advertisementInterval must be whole seconds from 1s to 255s with VRRP version 2",
    },
  ];

  for (const c of cases) {
    void test(`kubectl apply of ${c.name} fails with the server's message`, async () => {
      // --validate=false: no client-side check; only the API server can refuse it.
      const res = await kubectl(cp, ["apply", "--validate=false", "-f", "-"], { input: JSON.stringify(vip(c.name, c.spec)), check: false });
      assert.notEqual(res.code, 0, `apply succeeded: ${res.stdout}`);
      assert.ok(res.stderr.includes(c.message), `stderr lacks ${JSON.stringify(c.message)}:\n${res.stderr}`);
      const get = await kubectl(cp, ["get", "virtualip", c.name, "-n", NS], { check: false });
      assert.match(get.stderr, /NotFound/);
    });

    void test(`a direct create of ${c.name} gets 422 Invalid from the API server`, async () => {
      const api = cp.kc.makeApiClient(k8s.CustomObjectsApi);
      const err = await api.createNamespacedCustomObject(GROUP, VERSION, NS, PLURAL, vip(c.name, c.spec)).then(
        () => undefined,
        (e: unknown) => e as { statusCode?: number; body?: { reason?: string; message?: string } },
      );
      assert.ok(err, "create succeeded");
      assert.equal(err.statusCode, 422);
      assert.equal(err.body?.reason, "Invalid");
      assert.ok(err.body?.message?.includes(c.message), `message lacks ${JSON.stringify(c.message)}: ${err.body?.message}`);
    });
  }

  void test("a valid VirtualIP next to them is accepted (the cases fail for their own reason)", async () => {
    const res = await kubectl(cp, ["apply", "-f", "-"], { input: JSON.stringify(vip("valid", validSpec)) });
    assert.match(res.stdout, /virtualip\.keepalived-vip\.io\/valid created/);
  });
});

void describe("kubectl output", () => {
  before(async () => {
    await kubectl(cp, ["apply", "-f", "-"], { input: JSON.stringify(vip("columns", { ...validSpec, address: "192.0.2.77", virtualRouterId: 77 })) });
    const status = {
      status: {
        address: "192.0.2.77",
        virtualRouterId: 77,
        pool: "lan",
        master: "node-b",
        backups: "node-a,node-c",
        failovers: 2,
        nodes: [
          { name: "node-a", state: "BACKUP" },
          { name: "node-b", state: "MASTER" },
          { name: "node-c", state: "BACKUP" },
        ],
        conditions: [{ type: "Ready", status: "True", reason: "Held", message: "node-b holds the address", lastTransitionTime: "2024-01-01T00:00:00Z" }],
      },
    };
    await kubectl(cp, ["patch", "virtualip", "columns", "-n", NS, "--subresource=status", "--type=merge", "-p", JSON.stringify(status)]);
  });

  function rows(text: string): string[][] {
    return text
      .trim()
      .split("\n")
      .map((l) => l.trim().split(/\s+/));
  }

  void test("kubectl get virtualips prints ADDRESS SERVICE VRID MASTER STATUS AGE (address and router id in effect, from status)", async () => {
    const res = await kubectl(cp, ["get", "virtualips", "columns", "-n", NS]);
    const [header, row] = rows(res.stdout);
    assert.deepEqual(header, ["NAME", "ADDRESS", "SERVICE", "VRID", "MASTER", "STATUS", "AGE"]);
    assert.deepEqual(row?.slice(0, 6), ["columns", "192.0.2.77", "web", "77", "node-b", "Held"]);
  });

  void test("kubectl get virtualips -o wide adds BACKUPS, FAILOVERS and POOL", async () => {
    const res = await kubectl(cp, ["get", "vip", "columns", "-n", NS, "-o", "wide"]);
    const [header, row] = rows(res.stdout);
    assert.ok(header?.includes("BACKUPS"), `no BACKUPS column: ${header?.join(" ")}`);
    assert.equal(row?.[header!.indexOf("BACKUPS")], "node-a,node-c");
    assert.equal(row?.[header!.indexOf("POOL")], "lan");
  });

  void test("kubectl explain virtualip.spec.virtualRouterId prints the schema's description", async () => {
    const crd = yaml.load(readFileSync(CRD_FILE, "utf8")) as {
      spec: { versions: { schema: { openAPIV3Schema: { properties: { spec: { properties: Record<string, { description: string }> } } } } }[] };
    };
    const description = crd.spec.versions[0]!.schema.openAPIV3Schema.properties.spec.properties.virtualRouterId!.description;
    assert.ok(description.length > 0);
    const res = await kubectl(cp, ["explain", "virtualip.spec.virtualRouterId"]);
    const flat = (s: string): string => s.replace(/\s+/g, " ").trim();
    assert.match(res.stdout, /FIELD: *virtualRouterId <integer>/);
    assert.ok(flat(res.stdout).includes(flat(description)), `explain lacks ${JSON.stringify(description)}:\n${res.stdout}`);
  });
});
