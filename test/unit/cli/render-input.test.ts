// parseClusterView: YAML files of Kubernetes objects -> ClusterView, with
// errors that name file, object and field, and warnings for what is left aside.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { InputError } from "../../../src/cli/command.js";
import { parseClusterView, type InputFile, type RenderInput } from "../../../src/cli/render-input.js";

const root = join(import.meta.dirname, "../../..");

function sampleFiles(): InputFile[] {
  const dirs = ["config/samples", "config/samples/cluster"];
  return dirs.flatMap((dir) =>
    readdirSync(join(root, dir))
      .filter((n) => n.endsWith(".yaml"))
      .sort()
      .map((n) => ({ name: relative(root, join(root, dir, n)), text: readFileSync(join(root, dir, n), "utf8") })),
  );
}

const NODE = `apiVersion: v1
kind: Node
metadata:
  name: node-a
status:
  addresses: [{ type: InternalIP, address: 192.0.2.11 }]
`;
const SERVICE = `apiVersion: v1
kind: Service
metadata: { name: web }
spec: { type: LoadBalancer, ports: [{ port: 80 }] }
`;
const VIP = `apiVersion: keepalived-vip.io/v1alpha1
kind: VirtualIP
metadata: { name: web }
spec: { serviceRef: { name: web }, address: 192.0.2.50, virtualRouterId: 51, forwarding: kube-proxy }
`;
const AUTH_VIP = `apiVersion: keepalived-vip.io/v1alpha1
kind: VirtualIP
metadata: { name: legacy, namespace: apps }
spec:
  serviceRef: { name: web }
  address: 192.0.2.70
  virtualRouterId: 70
  vrrp: { version: 2, authSecretRef: { name: vrrp-auth, key: password } }
`;

function file(name: string, ...docs: string[]): InputFile {
  return { name, text: docs.join("---\n") };
}

function parse(...files: InputFile[]): RenderInput {
  return parseClusterView(files);
}

/** The messages of the InputError `fn` throws. */
function inputErrors(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof InputError, `threw ${String(e)}`);
    return e.messages;
  }
  assert.fail("no InputError thrown");
}

void describe("parseClusterView on the samples", () => {
  const { view, warnings } = parseClusterView(sampleFiles());

  void test("reads every sample object into the view", () => {
    assert.deepEqual(view.virtualIPs.map((v) => v.metadata.name).sort(), ["nginx", "nginx-ipv6", "web", "web-vrrp2"]);
    assert.deepEqual(
      view.nodes.map((n) => n.metadata?.name),
      ["node-a", "node-b", "node-c"],
    );
    assert.deepEqual(view.services.map((s) => s.metadata?.name).sort(), ["nginx", "nginx-ipv6", "web"]);
    assert.deepEqual(
      view.endpointSlices.map((s) => s.metadata?.name),
      ["web-7xk2p"],
    );
    assert.deepEqual(
      view.secrets.map((s) => s.metadata?.name),
      ["vrrp-auth"],
    );
    assert.deepEqual(view.nodeInterfaces, {});
    assert.deepEqual(
      view.pools.map((p) => [p.metadata.name, p.spec.addresses, p.spec.virtualRouterIds, p.spec.autoAssign]),
      [["demo", ["192.0.2.50-192.0.2.99", "2001:db8::50-2001:db8::99"], ["50-99"], true]],
    );
  });

  void test("warns only about the kustomization, which is not a cluster object", () => {
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /^config\/samples\/kustomization\.yaml: ignored Kustomization/);
  });
});

void describe("parseClusterView objects", () => {
  void test("defaults the namespace of namespaced objects, not of Nodes", () => {
    const { view } = parse(file("a.yaml", NODE, SERVICE, VIP));
    assert.equal(view.virtualIPs[0]?.metadata.namespace, "default");
    assert.equal(view.services[0]?.metadata?.namespace, "default");
    assert.equal(view.nodes[0]?.metadata?.namespace, undefined);
  });

  void test("applies VirtualIP defaults", () => {
    const { view } = parse(file("a.yaml", VIP));
    assert.equal(view.virtualIPs[0]?.spec.vrrp.version, 3);
    assert.deepEqual(view.virtualIPs[0]?.spec.ipvs, { scheduler: "rr", method: "NAT" });
  });

  void test("unpacks a v1 List and skips empty documents", () => {
    const list = `apiVersion: v1\nkind: List\nitems:\n${[NODE, SERVICE].map((d) => `  - ${d.trim().split("\n").join("\n    ")}`).join("\n")}\n`;
    const { view, warnings } = parse(file("list.yaml", "", list, "# only a comment\n"));
    assert.equal(view.nodes.length, 1);
    assert.equal(view.services.length, 1);
    assert.deepEqual(warnings, []);
  });

  void test("keeps only the Secrets an authSecretRef names", () => {
    const secret = (ns: string, name: string) => `apiVersion: v1\nkind: Secret\nmetadata: { name: ${name}, namespace: ${ns} }\nstringData: { password: abc }\n`;
    const { view } = parse(file("a.yaml", AUTH_VIP, secret("apps", "vrrp-auth"), secret("default", "vrrp-auth"), secret("apps", "other")));
    assert.deepEqual(
      view.secrets.map((s) => `${s.metadata?.namespace}/${s.metadata?.name}`),
      ["apps/vrrp-auth"],
    );
  });

  void test("leaves out a VirtualIP being deleted, with a warning, and keeps its address from being handed out", () => {
    const deleting = VIP.replace("metadata: { name: web }", 'metadata: { name: web, deletionTimestamp: "2024-01-01T00:00:00Z" }');
    const { view, warnings } = parse(file("a.yaml", deleting));
    assert.deepEqual(view.virtualIPs, []);
    assert.deepEqual(view.releasing, ["192.0.2.50"]);
    assert.deepEqual(warnings, ["a.yaml: VirtualIP default/web is being deleted; left out (its address is not handed out again)"]);
  });

  void test("a VirtualIP being deleted releases its allocated address (status.address)", () => {
    const allocated = `apiVersion: keepalived-vip.io/v1alpha1
kind: VirtualIP
metadata: { name: auto, deletionTimestamp: "2024-01-01T00:00:00Z" }
spec: { serviceRef: { name: web } }
status: { address: 192.0.2.77, virtualRouterId: 77, pool: lan }
`;
    const { view } = parse(file("a.yaml", allocated));
    assert.deepEqual(view.releasing, ["192.0.2.77"]);
  });

  void test("reads VirtualIPPools (cluster-scoped, defaults applied), Namespace labels and ServiceCIDRs", () => {
    const pool =
      "apiVersion: keepalived-vip.io/v1alpha1\nkind: VirtualIPPool\nmetadata: { name: lan }\nspec: { addresses: [192.0.2.64/27], virtualRouterIds: [50-99] }\n";
    const ns = "apiVersion: v1\nkind: Namespace\nmetadata: { name: team-a, labels: { team: web } }\n";
    const cidr = "apiVersion: networking.k8s.io/v1\nkind: ServiceCIDR\nmetadata: { name: kubernetes }\nspec: { cidrs: [198.18.0.0/16, 2001:db8:96::/112] }\n";
    const { view, warnings } = parse(file("a.yaml", pool, ns, cidr));
    assert.deepEqual(warnings, []);
    assert.equal(view.pools.length, 1);
    assert.equal(view.pools[0]?.metadata.namespace, undefined, "a pool is cluster-scoped");
    assert.deepEqual(view.pools[0]?.spec, { addresses: ["192.0.2.64/27"], virtualRouterIds: ["50-99"], autoAssign: true });
    assert.deepEqual(view.namespaces, [{ name: "team-a", labels: { team: "web" } }]);
    assert.deepEqual(view.serviceCIDRs, [{ name: "kubernetes", cidrs: ["198.18.0.0/16", "2001:db8:96::/112"] }]);
  });

  void test("ignores other kinds with a warning naming file and object", () => {
    const cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: cfg, namespace: kube-system }\n";
    const { warnings } = parse(file("a.yaml", cm));
    assert.deepEqual(warnings, [
      "a.yaml: ignored ConfigMap kube-system/cfg (v1): render reads only VirtualIP, VirtualIPPool, Namespace, ServiceCIDR, Node, Service, EndpointSlice, Secret and Lease",
    ]);
  });

  void test("ignores a known kind name of another API group", () => {
    const other = "apiVersion: example.com/v1\nkind: Service\nmetadata: { name: web }\n";
    const { view, warnings } = parse(file("a.yaml", other));
    assert.deepEqual(view.services, []);
    assert.equal(warnings.length, 1);
  });
});

void describe("parseClusterView default interfaces", () => {
  const lease = (name: string, iface: string, holder?: string) =>
    `apiVersion: coordination.k8s.io/v1
kind: Lease
metadata:
  name: ${name}
  namespace: keepalived-vip
  annotations: { keepalived-vip.io/default-interface: "${iface}" }
spec: ${holder ? `{ holderIdentity: ${holder} }` : "{}"}
`;

  const cases: { name: string; docs: string[]; interfaces: Record<string, string>; warning?: RegExp }[] = [
    { name: "an agent Lease publishes its node's interface", docs: [lease("keepalived-vip-agent-node-a", "ens3")], interfaces: { "node-a": "ens3" } },
    {
      name: "the holder identity names the node when it matches the Lease name",
      docs: [lease("keepalived-vip-agent-node.x", "bond0", "node.x")],
      interfaces: { "node.x": "bond0" },
    },
    {
      name: "a Lease that is not an agent's is ignored with a warning",
      docs: [lease("some-lease", "ens3")],
      interfaces: {},
      warning: /Lease keepalived-vip\/some-lease is not an agent heartbeat Lease/,
    },
    {
      name: "an interface name that could inject config is ignored with a warning",
      docs: [lease("keepalived-vip-agent-node-a", "eth0 }")],
      interfaces: {},
      warning: /annotation keepalived-vip\.io\/default-interface is not a plain interface name; ignored/,
    },
  ];
  for (const c of cases) {
    void test(c.name, () => {
      const { view, warnings } = parse(file("leases.yaml", ...c.docs));
      assert.deepEqual(view.nodeInterfaces, c.interfaces);
      if (c.warning)
        assert.ok(
          warnings.some((w) => c.warning!.test(w)),
          JSON.stringify(warnings),
        );
      else assert.deepEqual(warnings, []);
    });
  }

  void test("a Node's own annotation stays on the Node for the renderer, and a bad one is warned about", () => {
    const annotated = NODE.replace("  name: node-a\n", '  name: node-a\n  annotations: { keepalived-vip.io/default-interface: "eth 1" }\n');
    const { view, warnings } = parse(file("nodes.yaml", annotated));
    assert.equal(view.nodes.length, 1);
    assert.deepEqual(view.nodeInterfaces, {});
    assert.deepEqual(warnings, ["nodes.yaml: Node node-a: annotation keepalived-vip.io/default-interface is not a plain interface name; ignored"]);
  });
});

void describe("parseClusterView errors", () => {
  const cases: { name: string; files: InputFile[]; errors: (string | RegExp)[] }[] = [
    {
      name: "YAML syntax error names file, line and column",
      files: [file("broken.yaml", "apiVersion: v1\nkind: Node\nmetadata:\n  name: a\n   bad: [\n")],
      errors: [/^broken\.yaml:5:\d+: invalid YAML: bad indentation of a mapping entry$/],
    },
    {
      name: "invalid VirtualIP names file, object and field",
      files: [file("vip.yaml", VIP.replace("virtualRouterId: 51", "virtualRouterId: 300"))],
      errors: ["vip.yaml: VirtualIP default/web: spec.virtualRouterId: Too big: expected number to be <=255"],
    },
    {
      name: "invalid VirtualIPPool names file, pool and field",
      files: [
        file(
          "pool.yaml",
          "apiVersion: keepalived-vip.io/v1alpha1\nkind: VirtualIPPool\nmetadata: { name: lan }\nspec: { addresses: [192.0.2.65/27], virtualRouterIds: [50-99] }\n",
        ),
      ],
      errors: [/^pool\.yaml: VirtualIPPool lan: spec\.addresses\.0: must be a CIDR/],
    },
    {
      name: "a pool with router ids out of range",
      files: [
        file(
          "pool.yaml",
          "apiVersion: keepalived-vip.io/v1alpha1\nkind: VirtualIPPool\nmetadata: { name: lan }\nspec: { addresses: [192.0.2.64/27], virtualRouterIds: [0-300] }\n",
        ),
      ],
      errors: [/^pool\.yaml: VirtualIPPool lan: spec\.virtualRouterIds\.0: router ids are 1\.\.255/],
    },
    {
      name: "the same pool twice",
      files: [
        file(
          "a.yaml",
          'apiVersion: keepalived-vip.io/v1alpha1\nkind: VirtualIPPool\nmetadata: { name: lan }\nspec: { addresses: [192.0.2.64/27], virtualRouterIds: ["50"] }\n',
        ),
        file(
          "b.yaml",
          'apiVersion: keepalived-vip.io/v1alpha1\nkind: VirtualIPPool\nmetadata: { name: lan, namespace: x }\nspec: { addresses: [192.0.2.96/27], virtualRouterIds: ["51"] }\n',
        ),
      ],
      errors: ["b.yaml: VirtualIPPool lan is defined twice (also in a.yaml)"],
    },
    {
      name: "a ServiceCIDR without cidrs",
      files: [file("a.yaml", "apiVersion: networking.k8s.io/v1\nkind: ServiceCIDR\nmetadata: { name: kubernetes }\nspec: { cidrs: 198.18.0.0/16 }\n")],
      errors: ["a.yaml: ServiceCIDR kubernetes: spec.cidrs must be a list of CIDRs"],
    },
    {
      name: "a Namespace label that is not a string",
      files: [file("a.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: { name: team-a, labels: { team: [web] } }\n")],
      errors: ["a.yaml: Namespace team-a: metadata.labels.team must be a string"],
    },
    {
      name: "a document that is not a mapping",
      files: [file("a.yaml", "- just\n- a list\n")],
      errors: ["a.yaml: document 1: not a Kubernetes object"],
    },
    {
      name: "a document without kind",
      files: [file("a.yaml", NODE, "apiVersion: v1\nmetadata: { name: x }\n")],
      errors: ["a.yaml: document 2: not a Kubernetes object (apiVersion and kind must be strings)"],
    },
    {
      name: "an object without name",
      files: [file("a.yaml", "apiVersion: v1\nkind: Service\nmetadata: {}\n")],
      errors: ["a.yaml: document 1: Service has no metadata.name"],
    },
    {
      name: "a Node name that is not a DNS subdomain",
      files: [file("a.yaml", NODE.replace("name: node-a", "name: ../etc"))],
      errors: [/^a\.yaml: Node "\.\.\/etc": metadata\.name is not a valid node name/],
    },
    {
      name: "the same object twice",
      files: [file("a.yaml", SERVICE), file("b.yaml", SERVICE)],
      errors: ["b.yaml: Service default/web is defined twice (also in a.yaml)"],
    },
    {
      name: "every error of every file, in order",
      files: [file("a.yaml", VIP.replace("192.0.2.50", "192.0.2.050")), file("b.yaml", "key: [unclosed\n")],
      errors: [/^a\.yaml: VirtualIP default\/web: spec\.address: /, /^b\.yaml:2:1: invalid YAML: /],
    },
  ];
  for (const c of cases) {
    void test(c.name, () => {
      const errors = inputErrors(() => parseClusterView(c.files));
      assert.equal(errors.length, c.errors.length, JSON.stringify(errors));
      c.errors.forEach((want, i) => {
        if (typeof want === "string") assert.equal(errors[i], want);
        else assert.match(errors[i]!, want);
      });
    });
  }
});

void describe("parseClusterView never quotes a secret value", () => {
  const password = "hunter22";
  const cases: { name: string; text: string }[] = [
    { name: "YAML error next to the value", text: `apiVersion: v1\nkind: Secret\nmetadata: { name: s }\nstringData:\n  password: ${password}\n   broken: [\n` },
    { name: "data value that is not a string", text: `apiVersion: v1\nkind: Secret\nmetadata: { name: s }\ndata:\n  password: { nested: ${password} }\n` },
    {
      name: "duplicate key beside the value",
      text: `apiVersion: v1\nkind: Secret\nmetadata: { name: s }\nstringData:\n  password: ${password}\n  password: ${password}\n`,
    },
  ];
  for (const c of cases) {
    void test(c.name, () => {
      const errors = inputErrors(() => parseClusterView([{ name: "secret.yaml", text: c.text }]));
      assert.ok(errors.length > 0);
      for (const e of errors) {
        assert.ok(!e.includes(password), `message quotes the password: ${e}`);
        assert.match(e, /^secret\.yaml/);
      }
    });
  }
});
