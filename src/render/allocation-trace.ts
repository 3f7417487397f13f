// What the incremental planner (delta.ts) needs to know of how planAddresses
// decided: which VirtualIPs' allocations read what others take. Pure.
import type { VirtualIP } from "../api/index.js";
import type { UsablePool } from "./pools.js";
import { objectKey } from "../shared/keys.js";

/** Which decisions of planAddresses read other VirtualIPs' addresses or router ids. */
export interface AllocationTrace {
  /** VirtualIPs given a free address, a free or shared router id, or none for want of one (PoolExhausted): what others take decides theirs. */
  dependent: Set<string>;
  /** Address keys (addressKey) of the allocations kept from the status, and the pools the dependent VirtualIPs may draw from. */
  kept: Set<string>;
  dependentPools: Set<string>;
}

/** Records the dependent VirtualIPs (given a free address or router id, or none for want of one), their pools, and the kept addresses. */
export function traceDecisions(trace: AllocationTrace, dependent: VirtualIP[], admitting: ReadonlyMap<string, UsablePool[]>, kept: Set<string>): void {
  for (const vip of dependent) {
    trace.dependent.add(objectKey(vip.metadata));
    for (const p of admitting.get(objectKey(vip.metadata)) ?? []) trace.dependentPools.add(p.name);
  }
  for (const k of kept) trace.kept.add(k);
}
