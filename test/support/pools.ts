// The VirtualIPPool that test clusters and test views carry, so that the
// documentation addresses the tests use are allowed: 192.0.2.0/24, 198.51.100.0/24,
// 2001:db8::/64 and 2001:db8:100::/64 (the operator benchmark), every router id, every namespace. Tests of pools themselves
// build their own. Pure.
import { API_VERSION, POOL_KIND, parsePool, type VirtualIPPool } from "../../src/api/index.js";

export const TEST_POOL_NAME = "test";

/** The raw object (as kubectl would apply it). */
export function testPoolObject(name = TEST_POOL_NAME): Record<string, unknown> {
  return {
    apiVersion: API_VERSION,
    kind: POOL_KIND,
    metadata: { name, creationTimestamp: "2020-01-01T00:00:00Z" },
    spec: { addresses: ["192.0.2.0/24", "198.51.100.0/24", "2001:db8::/64", "2001:db8:100::/64"], virtualRouterIds: ["1-255"], autoAssign: true },
  };
}

/** The parsed pool, for renderer views. */
export function testPool(name = TEST_POOL_NAME): VirtualIPPool {
  const res = parsePool(testPoolObject(name));
  if (!res.ok) throw new Error(res.error);
  return res.value;
}
