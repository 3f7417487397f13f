// Address pools against a real API server, with the operator as its own
// ServiceAccount: nothing without a pool, admission by namespace label,
// reserved addresses, allocation that survives a restart, first claim wins,
// LoadBalancer Services, and ingress another controller wrote left alone.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { GROUP, POOL_PLURAL, VERSION } from "../../../src/api/index.js";
import { kubectl } from "../../support/index.js";
import {
  conditionOf,
  createNode,
  createVip,
  eventsFor,
  eventually,
  patchVipSpec,
  readNodeConfig,
  readVip,
  runOperator,
  serviceIngress,
  startOperatorEnv,
  vipsInConfig,
  waitForReady,
  type OperatorEnv,
  type OperatorProcess,
} from "./harness.js";

let env: OperatorEnv;
let op: OperatorProcess;
const WEB = "team-web";
const OTHER = "team-other";

async function apply(yaml: string): Promise<void> {
  await kubectl(env.cp, ["apply", "--server-side", "--field-manager=pool-tests", "-f", "-"], { input: yaml });
}

async function statusOf(
  name: string,
  ns = WEB,
): Promise<{ address?: string; virtualRouterId?: number; pool?: string; claim?: { address: string; time: string } }> {
  return ((await readVip(env, name, ns))?.status ?? {}) as never;
}

before(async () => {
  env = await startOperatorEnv({ pool: false });
  for (const [name, ip] of [
    ["node-a", "192.0.2.11"],
    ["node-b", "192.0.2.12"],
  ])
    await createNode(env, name ?? "", { ip: ip ?? "" });
  await apply(
    `apiVersion: v1\nkind: Namespace\nmetadata: { name: ${WEB}, labels: { team: web } }\n---\napiVersion: v1\nkind: Namespace\nmetadata: { name: ${OTHER} }\n`,
  );
  for (const ns of [WEB, OTHER]) {
    await env.admin.core.createNamespacedService(ns, {
      metadata: { name: "web" },
      spec: { type: "LoadBalancer", allocateLoadBalancerNodePorts: false, ports: [{ port: 80, protocol: "TCP" }] },
    });
  }
  op = await runOperator(env, { identity: "op-1" });
});

after(async () => {
  await op?.stop();
  await env?.cp.stop();
});

void describe("address pools", () => {
  void test("with no pool at all nothing is rendered (NoPool)", async () => {
    await createVip(env, "early", { service: "web", address: "192.0.2.70", virtualRouterId: 60 }, WEB);
    const vip = await waitForReady(env, "early", "NoPool", 20_000, WEB);
    assert.match(conditionOf(vip, "Ready")?.message ?? "", /no VirtualIPPool is in use/);
    assert.deepEqual(vipsInConfig(await readNodeConfig(env, "node-a")), []);
  });

  void test("a pool is refused at apply when an entry is not an address, CIDR or range", async () => {
    const res = await kubectl(env.cp, ["apply", "-f", "-"], {
      input:
        'apiVersion: keepalived-vip.io/v1alpha1\nkind: VirtualIPPool\nmetadata: { name: bad }\nspec: { addresses: ["192.0.2.300/24"], virtualRouterIds: ["1-10"] }\n',
      check: false,
    });
    assert.notEqual(res.code, 0, "the API server accepted an invalid pool");
    assert.match(res.stderr, /addresses/);
  });

  void test("a pool admits only the namespaces it selects; the explicit VirtualIP goes live once the pool exists", async () => {
    await apply(
      'apiVersion: keepalived-vip.io/v1alpha1\nkind: VirtualIPPool\nmetadata: { name: lan }\nspec:\n  addresses: ["192.0.2.64/27", "2001:db8::100/120"]\n  virtualRouterIds: ["50-99"]\n  namespaceSelector: { matchLabels: { team: web } }\n',
    );
    await waitForReady(env, "early", "NoMaster", 20_000, WEB);
    assert.equal((await statusOf("early")).address, "192.0.2.70");
    await createVip(env, "tenant", { service: "web", address: "192.0.2.71", virtualRouterId: 61 }, OTHER);
    const vip = await waitForReady(env, "tenant", "AddressNotAllowed", 20_000, OTHER);
    assert.match(conditionOf(vip, "Ready")?.message ?? "", /192\.0\.2\.71 is not in any VirtualIPPool that admits namespace team-other/);
    await kubectl(env.cp, ["apply", "-n", OTHER, "-f", "-"], {
      input:
        "apiVersion: keepalived-vip.io/v1alpha1\nkind: VirtualIP\nmetadata: { name: tenant-auto }\nspec: { serviceRef: { name: web }, forwarding: kube-proxy }\n",
    });
    const auto = await waitForReady(env, "tenant-auto", "NoPool", 20_000, OTHER);
    assert.match(conditionOf(auto, "Ready")?.message ?? "", /no VirtualIPPool admits namespace team-other/);
    assert.equal(auto.status && (auto.status as { address?: string }).address, undefined, "no address is allocated to a namespace no pool admits");
    const allocated = async (): Promise<number | undefined> =>
      ((await env.admin.custom.getClusterCustomObject(GROUP, VERSION, POOL_PLURAL, "lan")).body as { status?: { allocated?: number } }).status?.allocated;
    await eventually(async () => ((await allocated()) === 1 ? true : undefined), { what: "pool status allocated 1" });
  });

  void test("addresses outside the pools, router ids outside the range and reserved addresses are refused with a condition and an Event", async () => {
    const cases: [string, string, number, string, RegExp][] = [
      ["outside", "192.0.2.200", 62, "AddressNotAllowed", /spec\.address: 192\.0\.2\.200 is not in any VirtualIPPool that admits namespace team-web/],
      ["rid", "192.0.2.72", 200, "RouterIdNotAllowed", /spec\.virtualRouterId: 200 is not among the router ids of VirtualIPPool lan/],
      ["node-addr", "192.0.2.11", 63, "AddressReserved", /an address of Node node-a/],
      ["loopback", "127.0.0.1", 64, "AddressReserved", /loopback/],
      ["service-range", "198.51.100.130", 65, "AddressReserved", /ServiceCIDR/],
    ];
    for (const [name, address, virtualRouterId] of cases) await createVip(env, name, { service: "web", address, virtualRouterId }, WEB);
    for (const [name, , , reason, message] of cases) {
      const vip = await waitForReady(env, name, reason, 20_000, WEB);
      assert.match(conditionOf(vip, "Ready")?.message ?? "", message);
      const events = await eventually(
        async () => ((await eventsFor(env, name, WEB)).some((e) => e.reason === reason) ? eventsFor(env, name, WEB) : undefined),
        { what: `${reason} Event on ${name}` },
      );
      assert.ok(events.some((e) => e.type === "Warning" && e.reason === reason));
    }
    const config = vipsInConfig(await readNodeConfig(env, "node-a"));
    for (const [name] of cases) assert.ok(!config.includes(`${WEB}/${name}`), `${name} reached a node config`);
  });

  void test("a VirtualIP without address gets one from the pool, and it survives an operator restart", async () => {
    await kubectl(env.cp, ["apply", "-n", WEB, "-f", "-"], {
      input: "apiVersion: keepalived-vip.io/v1alpha1\nkind: VirtualIP\nmetadata: { name: auto }\nspec: { serviceRef: { name: web }, forwarding: kube-proxy }\n",
    });
    await waitForReady(env, "auto", "NoMaster", 20_000, WEB);
    const first = await statusOf("auto");
    assert.equal(first.pool, "lan");
    assert.equal(first.address, "192.0.2.65", "the network address of 192.0.2.64/27 is never handed out; .65 is the first free one");
    assert.equal(first.virtualRouterId, 50);
    assert.ok(first.claim?.time, "a rendered VirtualIP records its claim");
    await op.stop();
    op = await runOperator(env, { identity: "op-2" });
    await eventually(async () => ((await op.ready()) ? true : undefined), { what: "op-2 ready" });
    await new Promise((r) => setTimeout(r, 1500));
    const again = await statusOf("auto");
    assert.equal(again.address, first.address);
    assert.equal(again.virtualRouterId, first.virtualRouterId);
    assert.equal(again.claim?.time, first.claim?.time);
  });

  void test("editing an older VirtualIP onto a live address gets Conflict on the editor, never on the holder", async () => {
    const holder = await statusOf("auto");
    assert.ok((await readVip(env, "early", WEB))?.metadata, "early exists and is older than auto");
    await patchVipSpec(env, "early", { address: holder.address }, WEB);
    const editor = await waitForReady(env, "early", "Conflict", 20_000, WEB);
    assert.match(conditionOf(editor, "Conflict")?.message ?? "", /already used by VirtualIP team-web\/auto \(which claimed it first\)/);
    assert.equal(conditionOf(await readVip(env, "auto", WEB), "Ready")?.reason, "NoMaster");
    assert.ok(vipsInConfig(await readNodeConfig(env, "node-a")).includes(`${WEB}/auto`));
  });

  void test("a LoadBalancer Service of our class gets a VirtualIP and an EXTERNAL-IP from the pool, and loses both on delete", async () => {
    await env.admin.core.createNamespacedService(WEB, {
      metadata: { name: "shop" },
      spec: { type: "LoadBalancer", loadBalancerClass: "keepalived-vip.io/vip", allocateLoadBalancerNodePorts: false, ports: [{ port: 80, protocol: "TCP" }] },
    });
    const vip = await eventually(async () => readVip(env, "shop-ipv4", WEB), { what: "the Service's VirtualIP" });
    assert.equal((vip.spec.serviceRef as { name: string }).name, "shop");
    const ingress = await eventually(
      async () => {
        const ips = await serviceIngress(env, "shop", WEB);
        return ips.length > 0 ? ips : undefined;
      },
      { what: "EXTERNAL-IP" },
    );
    // The data plane (the ingress) is written before the VirtualIP's status: wait for both.
    const allocated = await eventually(async () => (await statusOf("shop-ipv4")).address, { what: "the allocated address in the VirtualIP's status" });
    assert.equal(ingress[0], allocated);
    await env.admin.core.deleteNamespacedService("shop", WEB);
    await eventually(async () => ((await readVip(env, "shop-ipv4", WEB)) === undefined ? true : undefined), { what: "the Service's VirtualIP deleted" });
  });

  void test("ingress written by another controller is left alone", async () => {
    await env.admin.core.createNamespacedService(WEB, {
      metadata: { name: "elsewhere" },
      spec: { type: "LoadBalancer", allocateLoadBalancerNodePorts: false, ports: [{ port: 80, protocol: "TCP" }] },
    });
    await kubectl(env.cp, ["apply", "--server-side", "--subresource=status", "--field-manager=another-lb", "-n", WEB, "-f", "-"], {
      input: "apiVersion: v1\nkind: Service\nmetadata: { name: elsewhere }\nstatus: { loadBalancer: { ingress: [ { ip: 192.0.2.90 } ] } }\n",
    });
    await createVip(env, "elsewhere", { service: "elsewhere", address: "192.0.2.73", virtualRouterId: 66 }, WEB);
    await waitForReady(env, "elsewhere", "IngressOwnedElsewhere", 20_000, WEB);
    assert.deepEqual(await serviceIngress(env, "elsewhere", WEB), ["192.0.2.90"]);
  });
});
