// Tests of the up-front refusals from what the agents report about their
// nodes (src/render/capabilities.ts): a spec.interface no selected node has
// (InterfaceNotFound), ipvs forwarding where no selected node has IPVS
// (IPVSUnavailable); agents that report nothing refuse nothing.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { planCluster, type AgentCapabilities } from "../../../src/render/index.js";
import { view, vip } from "./factory.js";

const WEB = vip({ name: "web", spec: { interface: "eth1" } });
const GOOD = vip({ name: "good", created: "2024-01-02T00:00:00Z", spec: { address: "192.0.2.60", virtualRouterId: 60 } });
const IPVS = vip({ name: "lb", spec: { address: "192.0.2.70", virtualRouterId: 70, forwarding: "ipvs" } });

function problemsOf(caps: Record<string, AgentCapabilities>, vips = [WEB, GOOD]): Array<[string, string, string]> {
  const plan = planCluster(view(vips, { agentCapabilities: caps }));
  return plan.problems.filter((p) => p.condition === "Ready").map((p) => [p.virtualIP, p.reason, p.message]);
}

void describe("capability problems", () => {
  void test("an interface none of the reporting selected nodes has is refused, naming the VirtualIP and the field; the others render", () => {
    const caps = { "node-a": { interfaces: ["eth0", "lo"] }, "node-b": { interfaces: ["eth0"] } };
    const got = problemsOf(caps);
    assert.equal(got.length, 1);
    const [key, reason, message] = got[0] as [string, string, string];
    assert.equal(key, "default/web");
    assert.equal(reason, "InterfaceNotFound");
    assert.match(
      message,
      /^VirtualIP default\/web: spec\.interface: interface eth1 is on none of the selected nodes that published their interfaces \(node-a, node-b\)/,
    );
    const plan = planCluster(view([WEB, GOOD], { agentCapabilities: caps }));
    assert.equal(plan.virtualIPs["default/web"]?.instance, undefined, "web is left out");
    assert.ok(plan.virtualIPs["default/good"]?.instance, "good renders");
  });

  void test("one reporting node with the interface is enough (the others' agents refuse it there)", () => {
    assert.deepEqual(problemsOf({ "node-a": { interfaces: ["eth0"] }, "node-b": { interfaces: ["eth0", "eth1"] } }), []);
  });

  void test("no selected node reports: nothing is refused up front", () => {
    assert.deepEqual(problemsOf({}), []);
    assert.deepEqual(problemsOf({ "node-a": { ipvs: true } }), []);
  });

  void test("only selected nodes count", () => {
    const web = vip({ name: "web", spec: { interface: "eth1", nodeSelector: { matchLabels: { "kubernetes.io/hostname": "node-a" } } } });
    const nodes = view([]).nodes.map((n) => ({ ...n, metadata: { ...n.metadata, labels: { "kubernetes.io/hostname": n.metadata?.name ?? "" } } }));
    const plan = planCluster({ ...view([web], { agentCapabilities: { "node-a": { interfaces: ["eth0"] }, "node-b": { interfaces: ["eth1"] } } }), nodes });
    assert.deepEqual(
      plan.problems.map((p) => p.reason),
      ["InterfaceNotFound"],
    );
  });

  void test("ipvs forwarding where every reporting selected node has no IPVS is refused; kube-proxy forwarding is not", () => {
    const got = problemsOf({ "node-a": { ipvs: false }, "node-b": { ipvs: false } }, [IPVS, GOOD]);
    assert.deepEqual(
      got.map(([k, r]) => [k, r]),
      [["default/lb", "IPVSUnavailable"]],
    );
    assert.match(got[0]?.[2] ?? "", /^VirtualIP default\/lb: spec\.forwarding: ipvs forwarding needs IPVS/);
    assert.deepEqual(problemsOf({ "node-a": { ipvs: false }, "node-b": { ipvs: true } }, [IPVS, GOOD]), []);
  });
});
