// forwarding ipvs: virtual servers from Service ports and EndpointSlices.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { V1EndpointSlice, V1Service } from "@kubernetes/client-node";
import { planVirtualServers } from "../../../src/render/index.js";
import { service, slice, vip } from "./factory.js";

const web4 = vip({ name: "web", spec: { forwarding: "ipvs", address: "192.0.2.50", ipvs: { scheduler: "sh", method: "DR" } } });
const web6 = vip({ name: "web", spec: { forwarding: "ipvs", address: "2001:db8::50" } });

function plan(svc: V1Service, slices: V1EndpointSlice[], v = web4): [number, string, string[]][] {
  return planVirtualServers({ vip: v, address: v.spec.address ?? "", service: svc, endpointSlices: slices }).map((vs) => [
    vs.port,
    vs.protocol,
    vs.realServers.map((r) => `${r.address}:${r.port}`),
  ]);
}

const http = service("web", { ports: [{ name: "http", port: 80, targetPort: "web" }] });

void describe("planVirtualServers", () => {
  const cases: { name: string; svc: V1Service; slices: V1EndpointSlice[]; v?: typeof web4; want: [number, string, string[]][] }[] = [
    {
      name: "the target port comes from the slice port of the same name",
      svc: http,
      slices: [slice("a", { service: "web", ports: [{ name: "http", port: 8080 }], endpoints: [{ ip: "198.51.100.1" }] })],
      want: [[80, "TCP", ["198.51.100.1:8080"]]],
    },
    {
      name: "slices may resolve a named port differently",
      svc: http,
      slices: [
        slice("a", { service: "web", ports: [{ name: "http", port: 8080 }], endpoints: [{ ip: "198.51.100.2" }] }),
        slice("b", { service: "web", ports: [{ name: "http", port: 9090 }], endpoints: [{ ip: "198.51.100.1" }] }),
      ],
      want: [[80, "TCP", ["198.51.100.1:9090", "198.51.100.2:8080"]]],
    },
    {
      name: "an unnamed Service port matches the unnamed slice port",
      svc: service("web", { ports: [{ port: 80 }] }),
      slices: [slice("a", { service: "web", ports: [{ port: 8080 }], endpoints: [{ ip: "198.51.100.1" }] })],
      want: [[80, "TCP", ["198.51.100.1:8080"]]],
    },
    {
      name: "not-ready endpoints are left out; ready unset counts as ready",
      svc: http,
      slices: [
        slice("a", {
          service: "web",
          ports: [{ name: "http", port: 8080 }],
          endpoints: [{ ip: "198.51.100.1", ready: false }, { ip: "198.51.100.2" }, { ip: "198.51.100.3", ready: true }],
        }),
      ],
      want: [[80, "TCP", ["198.51.100.2:8080", "198.51.100.3:8080"]]],
    },
    {
      name: "a port without ready endpoints gets no virtual server",
      svc: http,
      slices: [slice("a", { service: "web", ports: [{ name: "http", port: 8080 }], endpoints: [{ ip: "198.51.100.1", ready: false }] })],
      want: [],
    },
    {
      name: "UDP is kept, SCTP is left out, the protocol must match the slice port",
      svc: service("web", {
        ports: [
          { name: "dns", port: 53, protocol: "UDP" },
          { name: "dns-tcp", port: 53, protocol: "TCP" },
          { name: "sctp", port: 3868, protocol: "SCTP" },
        ],
      }),
      slices: [
        slice("a", {
          service: "web",
          ports: [
            { name: "dns", port: 5353, protocol: "UDP" },
            { name: "dns-tcp", port: 5353, protocol: "UDP" },
            { name: "sctp", port: 3868, protocol: "SCTP" },
          ],
          endpoints: [{ ip: "198.51.100.1" }],
        }),
      ],
      want: [[53, "UDP", ["198.51.100.1:5353"]]],
    },
    {
      name: "slices of another Service, namespace or family are ignored",
      svc: http,
      slices: [
        slice("a", { service: "other", ports: [{ name: "http", port: 8080 }], endpoints: [{ ip: "198.51.100.1" }] }),
        slice("b", { service: "web", namespace: "elsewhere", ports: [{ name: "http", port: 8080 }], endpoints: [{ ip: "198.51.100.2" }] }),
        slice("c", { service: "web", family: 6, ports: [{ name: "http", port: 8080 }], endpoints: [{ ip: "2001:db8:ff::3" }] }),
        slice("d", { service: "web", ports: [{ name: "http", port: 8080 }], endpoints: [{ ip: "198.51.100.4" }] }),
      ],
      want: [[80, "TCP", ["198.51.100.4:8080"]]],
    },
    {
      name: "an IPv6 VirtualIP gets the IPv6 endpoints, canonical",
      svc: http,
      v: web6,
      slices: [
        slice("a", { service: "web", ports: [{ name: "http", port: 8080 }], endpoints: [{ ip: "198.51.100.1" }] }),
        slice("b", { service: "web", family: 6, ports: [{ name: "http", port: 8080 }], endpoints: [{ ip: "2001:DB8:FF:0::1" }] }),
      ],
      want: [[80, "TCP", ["2001:db8:ff::1:8080"]]],
    },
    {
      name: "duplicate endpoints and ports collapse; invalid ones are dropped; sorted numerically",
      svc: service("web", {
        ports: [
          { name: "b", port: 443 },
          { name: "a", port: 80 },
          { name: "a", port: 80 },
          { name: "z", port: 70000 },
        ],
      }),
      slices: [
        slice("a", {
          service: "web",
          ports: [
            { name: "a", port: 8080 },
            { name: "b", port: 8443 },
            { name: "z", port: 8000 },
          ],
          endpoints: [{ ip: "198.51.100.10" }, { ip: "198.51.100.9" }, { ip: "198.51.100.9" }, { ip: "not-an-ip" }],
        }),
      ],
      want: [
        [80, "TCP", ["198.51.100.9:8080", "198.51.100.10:8080"]],
        [443, "TCP", ["198.51.100.9:8443", "198.51.100.10:8443"]],
      ],
    },
  ];
  for (const c of cases) {
    void test(c.name, () => assert.deepEqual(plan(c.svc, c.slices, c.v), c.want));
  }

  void test("scheduler and method come from spec.ipvs", () => {
    const [vs] = planVirtualServers({
      vip: web4,
      address: web4.spec.address ?? "",
      service: http,
      endpointSlices: [slice("a", { service: "web", ports: [{ name: "http", port: 8080 }], endpoints: [{ ip: "198.51.100.1" }] })],
    });
    assert.equal(vs?.scheduler, "sh");
    assert.equal(vs?.method, "DR");
    assert.equal(vs?.virtualIP, "default/web");
    assert.equal(vs?.service, "default/web");
  });
});
