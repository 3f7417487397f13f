// A published VRRP instance for agent unit tests: unicast between two peers,
// one address, one VirtualIP named after the instance.
import type { PublishedInstance } from "../../../src/api/index.js";

export function publishedInstance(name: string, vrid: number, address: string, over: Partial<PublishedInstance> = {}): PublishedInstance {
  return {
    name,
    virtualRouterId: vrid,
    family: 4,
    version: 3,
    advertIntervalMs: 1000,
    preempt: false,
    unicast: true,
    peers: ["192.0.2.11", "192.0.2.12"],
    primaryAddress: address,
    excludedAddresses: [],
    virtualIPs: [`default/${name}`],
    virtualServers: [],
    ...over,
  };
}
