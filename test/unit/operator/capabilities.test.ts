// Tests of what the operator reads from agent Leases for its up-front checks
// (src/operator/gather.ts): interface names and IPVS, and when a Lease change
// calls for a new render.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ANNOTATION_INTERFACES, ANNOTATION_IPVS, MAX_PUBLISHED_INTERFACES } from "../../../src/api/index.js";
import type { RawObject } from "../../../src/kube/watch.js";
import { agentCapabilities, leaseRenderFingerprint } from "../../../src/operator/gather.js";

const lease = (annotations: Record<string, string>): RawObject => ({ metadata: { name: "l", annotations } });

void describe("agentCapabilities", () => {
  void test("reads interface names and IPVS; anything else counts as not reported", () => {
    const byNode = new Map<string, RawObject>([
      ["node-a", lease({ [ANNOTATION_INTERFACES]: "eth0,lo", [ANNOTATION_IPVS]: "true" })],
      ["node-b", lease({ [ANNOTATION_INTERFACES]: "eth0, bad name!,eth1", [ANNOTATION_IPVS]: "yes" })],
      ["node-c", lease({})],
      [
        "node-d",
        lease({ [ANNOTATION_INTERFACES]: Array.from({ length: MAX_PUBLISHED_INTERFACES + 1 }, (_, i) => `d${i}`).join(","), [ANNOTATION_IPVS]: "false" }),
      ],
    ]);
    assert.deepEqual(agentCapabilities(byNode), {
      "node-a": { interfaces: ["eth0", "lo"], ipvs: true },
      "node-b": { interfaces: ["eth0", "eth1"] },
      "node-d": { ipvs: false },
    });
  });
});

void describe("leaseRenderFingerprint", () => {
  const used = new Set(["eth1"]);
  void test("an interface no VirtualIP names coming or going changes nothing", () => {
    const a = leaseRenderFingerprint(lease({ [ANNOTATION_INTERFACES]: "eth0,eth1,veth1" }), used);
    assert.equal(leaseRenderFingerprint(lease({ [ANNOTATION_INTERFACES]: "eth0,eth1,veth2,veth3" }), used), a);
  });
  void test("a named interface, IPVS or the list appearing changes it", () => {
    const a = leaseRenderFingerprint(lease({ [ANNOTATION_INTERFACES]: "eth0,eth1" }), used);
    assert.notEqual(leaseRenderFingerprint(lease({ [ANNOTATION_INTERFACES]: "eth0" }), used), a);
    assert.notEqual(leaseRenderFingerprint(lease({ [ANNOTATION_INTERFACES]: "eth0,eth1", [ANNOTATION_IPVS]: "true" }), used), a);
    assert.notEqual(leaseRenderFingerprint(lease({}), used), leaseRenderFingerprint(lease({ [ANNOTATION_INTERFACES]: "eth0" }), used));
  });
});
