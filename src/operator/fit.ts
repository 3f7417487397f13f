// Keeps every published plan object (instance and node Secrets) under the
// API's object size limit: a VirtualIP whose joining would push one over is
// left out (Ready=False, TooLarge), newest first, so the VirtualIPs already
// in it keep running. Pure apart from the injected renderer.
import { ReadyReason } from "../api/index.js";
import type { VirtualIP } from "../api/index.js";
import { compareAge, type ClusterPlan, type ClusterView, type Problem } from "../render/index.js";
import { objectKey } from "../shared/keys.js";

/** The API server's limit on a Secret's data (and etcd's on an object, about the same). */
export const OBJECT_LIMIT_BYTES = 1024 * 1024;
/** Room left for the Secret's metadata, labels, annotations and managedFields. */
export const HEADROOM_BYTES = 64 * 1024;
/** The largest published JSON (instance.json or node.json) the operator writes. */
export const PLAN_OBJECT_BUDGET_BYTES = OBJECT_LIMIT_BYTES - HEADROOM_BYTES;

/** A published object over the budget, and the VirtualIPs it carries. */
interface Oversize {
  what: string;
  bytes: number;
  members: string[];
}

/** Whether a JSON text is over `budget` bytes in UTF-8 (3 bytes a UTF-16 unit at most: most texts need no count). */
function overBudget(json: string, budget: number): boolean {
  return json.length * 3 > budget && Buffer.byteLength(json, "utf8") > budget;
}

function oversized(plan: ClusterPlan, budget: number): Oversize[] {
  const over = [...plan.published.filter((ip) => overBudget(ip.json, budget)), ...plan.nodes.filter((np) => overBudget(np.json, budget))];
  // Members are listed only when something is over: a pass over every VirtualIP's nodes is the costly part.
  if (over.length === 0) return [];
  const byInstance = new Map<string, string[]>();
  const byNode = new Map<string, string[]>();
  const add = (m: Map<string, string[]>, k: string, v: string): void => {
    const list = m.get(k);
    if (list) list.push(v);
    else m.set(k, [v]);
  };
  for (const v of Object.values(plan.virtualIPs)) {
    if (v.instance === undefined) continue;
    add(byInstance, v.instance, v.key);
    for (const n of v.nodes) add(byNode, n, v.key);
  }
  const out: Oversize[] = [];
  for (const ip of plan.published) {
    const bytes = Buffer.byteLength(ip.json, "utf8");
    if (bytes > budget) out.push({ what: `VRRP instance ${ip.published.name}`, bytes, members: byInstance.get(ip.published.name) ?? [] });
  }
  for (const np of plan.nodes) {
    const bytes = Buffer.byteLength(np.json, "utf8");
    if (bytes > budget) out.push({ what: `the config of node ${np.node}`, bytes, members: byNode.get(np.node) ?? [] });
  }
  return out;
}

/**
 * Order of holding on: a claim confirmed at the current generation, then a
 * claim from before an edit, then none; older claims first; then age. The
 * last in this order is the newest, the one left out.
 */
function byHold(a: VirtualIP, b: VirtualIP): number {
  const tier = (v: VirtualIP): number => (v.status?.claim === undefined ? 2 : v.status.claim.generation === (v.metadata.generation ?? 0) ? 0 : 1);
  const time = (v: VirtualIP): number => (v.status?.claim ? Date.parse(v.status.claim.time) || Infinity : Infinity);
  return tier(a) - tier(b) || time(a) - time(b) || compareAge(a, b);
}

/** The plan with the entries of the VirtualIPs left out as the first render gave them, but carried by no instance. */
function keepLeftOut(plan: ClusterPlan, first: ClusterPlan | undefined, left: ReadonlySet<string>): ClusterPlan {
  if (left.size === 0) return plan;
  const virtualIPs = { ...plan.virtualIPs };
  for (const key of left) {
    const e = first?.virtualIPs[key];
    if (!e) continue;
    const { instance: _i, ...rest } = e;
    virtualIPs[key] = { ...rest, nodes: [], claimed: false, claimVoid: false };
  }
  return { ...plan, virtualIPs };
}

/** The outcome of {@link fitPlan}: a plan whose every object fits, and the VirtualIPs left out for it. */
export interface FitResult {
  plan: ClusterPlan;
  /** One TooLarge problem per VirtualIP left out (already in `plan.problems`). */
  refused: Problem[];
}

/**
 * Renders `view`; while a published object is over `budget`, leaves out the
 * newest VirtualIP it carries (the last to claim its address, then the
 * youngest: the order that decides conflicts) and renders again; the
 * addresses of those left out stay theirs. Each round leaves out at
 * least one VirtualIP, so it ends; a plan with nothing left to leave out is
 * returned as it is.
 */
export async function fitPlan(view: ClusterView, render: (view: ClusterView) => Promise<ClusterPlan>, budget = PLAN_OBJECT_BUDGET_BYTES): Promise<FitResult> {
  // The order of holding on, sorted only when something is over the budget.
  let age: Map<string, number> | undefined;
  const refused: Problem[] = [];
  const left = new Set<string>();
  /** What the first render gave each VirtualIP: a VirtualIP left out keeps its address, router id and claim. */
  let first: ClusterPlan | undefined;
  let current = view;
  for (;;) {
    const plan = await render(current);
    first ??= plan;
    const over = oversized(plan, budget);
    const before = left.size;
    if (over.length > 0) age ??= new Map([...view.virtualIPs].sort(byHold).map((v, i) => [objectKey(v.metadata), i]));
    for (const o of over) {
      const newest = o.members.filter((k) => !left.has(k)).sort((a, b) => (age?.get(b) ?? 0) - (age?.get(a) ?? 0))[0];
      if (newest === undefined) continue;
      left.add(newest);
      refused.push({
        virtualIP: newest,
        condition: "Ready",
        reason: ReadyReason.TooLarge,
        excluded: true,
        message:
          `VirtualIP ${newest} is left out: with it, ${o.what} would publish ${o.bytes} bytes, over the ${budget}-byte limit ` +
          `(the API's 1 MiB object limit less headroom); the VirtualIPs already in it keep running. ` +
          `Use another spec.virtualRouterId, or a Service with fewer ports or endpoints (spec.serviceRef)`,
      });
    }
    if (left.size === before) return { plan: keepLeftOut({ ...plan, problems: [...plan.problems, ...refused] }, first, left), refused };
    // The addresses of those left out stay theirs: no other VirtualIP is given one meanwhile.
    const held = [...left].flatMap((k) => first?.virtualIPs[k]?.address ?? []);
    current = { ...view, virtualIPs: view.virtualIPs.filter((v) => !left.has(objectKey(v.metadata))), releasing: [...(view.releasing ?? []), ...held] };
  }
}
