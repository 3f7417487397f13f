// What the renderer reads from a Node: InternalIP per family, default interface.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { V1Node } from "@kubernetes/client-node";
import { ANNOTATION_DEFAULT_INTERFACE } from "../../../src/api/index.js";
import { nodeDefaultInterface, nodeInternalIP } from "../../../src/render/index.js";

function withAddresses(addresses: { type: string; address: string }[]): V1Node {
  return { metadata: { name: "n" }, status: { addresses } };
}

void describe("nodeInternalIP", () => {
  const cases: { name: string; node: V1Node; v4?: string; v6?: string }[] = [
    { name: "no status", node: { metadata: { name: "n" } } },
    { name: "IPv4 only", node: withAddresses([{ type: "InternalIP", address: "192.0.2.11" }]), v4: "192.0.2.11" },
    {
      name: "dual-stack: one per family, whatever the order",
      node: withAddresses([
        { type: "InternalIP", address: "2001:db8::11" },
        { type: "InternalIP", address: "192.0.2.11" },
      ]),
      v4: "192.0.2.11",
      v6: "2001:db8::11",
    },
    {
      name: "ExternalIP and Hostname are not used",
      node: withAddresses([
        { type: "ExternalIP", address: "198.51.100.1" },
        { type: "Hostname", address: "192.0.2.99" },
      ]),
    },
    {
      name: "the first InternalIP of a family wins",
      node: withAddresses([
        { type: "InternalIP", address: "192.0.2.11" },
        { type: "InternalIP", address: "192.0.2.12" },
      ]),
      v4: "192.0.2.11",
    },
    { name: "IPv6 is made canonical", node: withAddresses([{ type: "InternalIP", address: "2001:DB8:0:0:0:0:0:11" }]), v6: "2001:db8::11" },
    {
      name: "an address that is not an IP is skipped",
      node: withAddresses([
        { type: "InternalIP", address: "192.0.2.11\n}" },
        { type: "InternalIP", address: "192.0.2.12" },
      ]),
      v4: "192.0.2.12",
    },
  ];
  for (const c of cases) {
    void test(c.name, () => {
      assert.equal(nodeInternalIP(c.node, 4), c.v4);
      assert.equal(nodeInternalIP(c.node, 6), c.v6);
    });
  }
});

void describe("nodeDefaultInterface", () => {
  const annotated: V1Node = { metadata: { name: "n", annotations: { [ANNOTATION_DEFAULT_INTERFACE]: "ens3" } } };
  const plain: V1Node = { metadata: { name: "n" } };
  const cases: { name: string; node: V1Node; published: Record<string, string>; want: string }[] = [
    { name: "the agent's published interface comes first", node: annotated, published: { n: "bond0" }, want: "bond0" },
    { name: "else the Node annotation", node: annotated, published: {}, want: "ens3" },
    { name: "else the fallback", node: plain, published: {}, want: "eth9" },
    { name: "another node's published interface is not used", node: plain, published: { m: "bond0" }, want: "eth9" },
    { name: "an unsafe published name is skipped", node: annotated, published: { n: "eth0 }" }, want: "ens3" },
    {
      name: "an unsafe annotation is skipped",
      node: { metadata: { name: "n", annotations: { [ANNOTATION_DEFAULT_INTERFACE]: "eth0\nvrrp_instance x {" } } },
      published: {},
      want: "eth9",
    },
  ];
  for (const c of cases) {
    void test(c.name, () => {
      assert.equal(nodeDefaultInterface(c.node, { nodeInterfaces: c.published, fallback: "eth9" }), c.want);
    });
  }
});
