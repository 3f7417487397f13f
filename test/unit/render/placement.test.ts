// Placement in the published plan: nodes without a ready local endpoint of a
// Local Service stand by, cordoned or excluded nodes hand over, and none of it
// changes a node's keepalived.conf (no reload).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { V1EndpointSlice, V1Node } from "@kubernetes/client-node";
import { planCluster, renderNodeConfigs } from "../../../src/render/index.js";
import type { ClusterView } from "../../../src/render/index.js";
import { node, service, view, vip } from "./factory.js";

/** An EndpointSlice of Service `svc` with one endpoint per entry: its node and readiness. */
function endpoints(svc: string, eps: { node: string; ready?: boolean }[], name = `${svc}-1`): V1EndpointSlice {
  return {
    metadata: { name, namespace: "default", labels: { "kubernetes.io/service-name": svc } },
    addressType: "IPv4",
    ports: [{ port: 80 }],
    endpoints: eps.map((e, i) => ({
      addresses: [`10.244.0.${i + 1}`],
      nodeName: e.node,
      ...(e.ready === undefined ? {} : { conditions: { ready: e.ready } }),
    })),
  };
}

const LOCAL = service("web", { type: "LoadBalancer", externalTrafficPolicy: "Local", ports: [{ port: 80 }] });
const CLUSTER = service("web", { type: "LoadBalancer", ports: [{ port: 80 }] });

/** node -> its entries' standby flags ("instance:standby"), and its handover reason. */
function placement(v: ClusterView): Record<string, { standby: string[]; handover?: string }> {
  const plan = planCluster(v);
  return Object.fromEntries(
    plan.nodes.map((n) => [
      n.node,
      { standby: n.published.instances.filter((e) => e.standby).map((e) => e.instance), ...(n.published.handover ? { handover: n.published.handover } : {}) },
    ]),
  );
}

void describe("standby for externalTrafficPolicy: Local", () => {
  const cases: { name: string; view: ClusterView; standby: string[] }[] = [
    {
      name: "the nodes without the only ready endpoint stand by",
      view: view([vip({ name: "v" })], { services: [LOCAL], endpointSlices: [endpoints("web", [{ node: "node-c" }])] }),
      standby: ["node-a", "node-b"],
    },
    {
      name: "an endpoint that is not ready does not count",
      view: view([vip({ name: "v" })], { services: [LOCAL], endpointSlices: [endpoints("web", [{ node: "node-c" }, { node: "node-a", ready: false }])] }),
      standby: ["node-a", "node-b"],
    },
    {
      name: "every endpoint gone: nobody stands by (the VIP stays where it is)",
      view: view([vip({ name: "v" })], { services: [LOCAL], endpointSlices: [] }),
      standby: [],
    },
    {
      name: "only unready endpoints: nobody stands by",
      view: view([vip({ name: "v" })], { services: [LOCAL], endpointSlices: [endpoints("web", [{ node: "node-b", ready: false }])] }),
      standby: [],
    },
    {
      name: "endpoints only on a node that does not take part: nobody stands by",
      view: view([vip({ name: "v" })], {
        services: [LOCAL],
        nodes: [node("node-a", ["192.0.2.11"]), node("node-b", ["192.0.2.12"])],
        endpointSlices: [endpoints("web", [{ node: "node-z" }])],
      }),
      standby: [],
    },
    {
      name: "externalTrafficPolicy Cluster never restricts",
      view: view([vip({ name: "v" })], { services: [CLUSTER], endpointSlices: [endpoints("web", [{ node: "node-c" }])] }),
      standby: [],
    },
    {
      name: "forwarding ipvs never restricts (IPVS reaches endpoints on every node)",
      view: view([vip({ name: "v", spec: { forwarding: "ipvs" } })], { services: [LOCAL], endpointSlices: [endpoints("web", [{ node: "node-c" }])] }),
      standby: [],
    },
    {
      name: "endpoints over several slices are all counted",
      view: view([vip({ name: "v" })], {
        services: [LOCAL],
        endpointSlices: [endpoints("web", [{ node: "node-c" }]), endpoints("web", [{ node: "node-b" }], "web-2")],
      }),
      standby: ["node-a"],
    },
  ];
  for (const c of cases) {
    void test(c.name, () => {
      const got = placement(c.view);
      const standing = Object.entries(got)
        .filter(([, p]) => p.standby.length > 0)
        .map(([n]) => n)
        .sort();
      assert.deepEqual(standing, c.standby);
    });
  }

  void describe("make before break: the MASTER stands by only once a node with an endpoint can take over", () => {
    /** The VirtualIP with its nodes' reported states. */
    const reported = (states: Record<string, "MASTER" | "BACKUP" | "FAULT">) => ({
      ...vip({ name: "v" }),
      status: { nodes: Object.entries(states).map(([name, state]) => ({ name, state })) },
    });
    const standing = (v: ClusterView): string[] =>
      Object.entries(placement(v))
        .filter(([, p]) => p.standby.length > 0)
        .map(([n]) => n)
        .sort();
    const endpointOn = (n: string) => ({ services: [LOCAL], endpointSlices: [endpoints("web", [{ node: n }])] });
    void test("the endpoint moved from the MASTER to a node still in FAULT: the MASTER keeps serving", () => {
      assert.deepEqual(standing(view([reported({ "node-a": "FAULT", "node-b": "FAULT", "node-c": "MASTER" })], endpointOn("node-a"))), ["node-b"]);
    });
    void test("once that node reports BACKUP the MASTER stands by and hands over", () => {
      assert.deepEqual(standing(view([reported({ "node-a": "BACKUP", "node-b": "FAULT", "node-c": "MASTER" })], endpointOn("node-a"))), ["node-b", "node-c"]);
    });
    void test("a node that is not MASTER stands by at once", () => {
      assert.deepEqual(standing(view([reported({ "node-a": "FAULT", "node-b": "BACKUP", "node-c": "MASTER" })], endpointOn("node-c"))), ["node-a", "node-b"]);
    });
  });

  void test("an instance with two Local Services: eligible nodes have a ready endpoint of each", () => {
    const v = view(
      [
        vip({ name: "a", spec: { address: "192.0.2.50", serviceRef: { name: "web" } } }),
        vip({ name: "b", spec: { address: "192.0.2.51", serviceRef: { name: "api" } } }),
      ],
      {
        services: [LOCAL, service("api", { type: "LoadBalancer", externalTrafficPolicy: "Local", ports: [{ port: 80 }] })],
        endpointSlices: [endpoints("web", [{ node: "node-b" }, { node: "node-c" }]), endpoints("api", [{ node: "node-c" }, { node: "node-a" }])],
      },
    );
    const got = placement(v);
    assert.deepEqual(
      Object.keys(got).filter((n) => got[n]!.standby.length > 0),
      ["node-a", "node-b"],
    );
  });

  void test("moving the endpoint changes node.json but not one byte of any keepalived.conf", () => {
    const on = (n: string): ClusterView => view([vip({ name: "v" })], { services: [LOCAL], endpointSlices: [endpoints("web", [{ node: n }])] });
    const before = planCluster(on("node-c"));
    const after = planCluster(on("node-a"));
    assert.notDeepEqual(
      before.nodes.map((n) => n.json),
      after.nodes.map((n) => n.json),
    );
    assert.deepEqual(
      renderNodeConfigs(before).map((c) => c.config),
      renderNodeConfigs(after).map((c) => c.config),
    );
    assert.deepEqual(
      before.published.map((p) => p.json),
      after.published.map((p) => p.json),
    );
  });
});

void describe("handover of cordoned and excluded nodes", () => {
  const withNode = (n: V1Node): ClusterView => view([vip({ name: "v" })], { nodes: [n, node("node-b", ["192.0.2.12"])] });
  void test("a cordoned node hands over", () => {
    const cordoned: V1Node = { ...node("node-a", ["192.0.2.11"]), spec: { unschedulable: true } };
    assert.equal(placement(withNode(cordoned))["node-a"]?.handover, "Unschedulable");
    assert.equal(placement(withNode(cordoned))["node-b"]?.handover, undefined);
  });
  void test("the exclude-from-external-load-balancers label hands over, whatever its value", () => {
    for (const value of ["", "true", "false"]) {
      const excluded = node("node-a", ["192.0.2.11"], { labels: { "node.kubernetes.io/exclude-from-external-load-balancers": value } });
      assert.equal(placement(withNode(excluded))["node-a"]?.handover, "ExcludedFromLoadBalancers", value);
    }
  });
  void test("a schedulable, unlabelled node does not", () => {
    assert.equal(placement(withNode({ ...node("node-a", ["192.0.2.11"]), spec: { unschedulable: false } }))["node-a"]?.handover, undefined);
  });
  void test("a handover keeps the node in its instances and its config unchanged", () => {
    const plain = withNode(node("node-a", ["192.0.2.11"]));
    const cordoned = withNode({ ...node("node-a", ["192.0.2.11"]), spec: { unschedulable: true } });
    assert.deepEqual(
      renderNodeConfigs(planCluster(plain)).map((c) => c.config),
      renderNodeConfigs(planCluster(cordoned)).map((c) => c.config),
    );
  });
});
