// Step 2 of the reconcile, the desired state: the cached objects (gathered)
// planned into the Secrets, Service ingress and pool statuses the cluster should hold. Pure (time passed in).
import type { V1Secret } from "@kubernetes/client-node";
import { instanceSecretName, nodeConfigSecretName, ReadyReason } from "../api/index.js";
import type { ClusterPlan, ClusterView, Problem, RenderOptions, SessionPass } from "../render/index.js";
import type { RawObject } from "../kube/watch.js";
import type { ObjectCache } from "./cache.js";
import { fitPlan } from "./fit.js";
import {
  agentCapabilities,
  agentHostAddresses,
  agentLeasesByNode,
  buildClusterView,
  gatherPools,
  gatherServiceCIDRs,
  nodeInterfaces,
  releasingAddresses,
  releasingRouterIds,
  type GatheredVirtualIPs,
} from "./gather.js";
import type { LoadBalancerPlan } from "./lbservices.js";
import { buildInstanceSecret, buildNodeConfigSecret, dataDigests, planStaleConfigSecrets, type SecretDeletion } from "./nodesecrets.js";
import { buildPoolStatus, type DesiredPoolStatus } from "./pools.js";
import type { Renderer } from "./render-worker.js";
import { VirtualIPDerivations } from "./derived.js";

/** The outcome of the last render (the pure renderer's plan and what follows from it). */
export interface RenderState {
  /** The plan without its published node and instance plans (those live on in the desired Secrets only). */
  plan: ClusterPlan;
  problems: Map<string, Problem[]>;
  /** VirtualIPs whose spec is invalid: key -> error. */
  invalid: Map<string, string>;
  /**
   * VirtualIPs this render left out because they are being deleted or invalid:
   * a deleted VirtualIP's cleanup is judged only against a plan without it.
   */
  excluded: Set<string>;
}

/** A desired node or instance Secret, with what it was built from and the digests of its data. */
export interface BuiltSecret {
  /** Hash of the published JSON it carries. */
  hash: string;
  /** uid of the owning Node ("" for an instance Secret). */
  uid: string;
  secret: V1Secret;
  digests: Record<string, string>;
}

/** What the cluster should hold: the result of step 2, compared with the cache by step 3. */
export interface DesiredState {
  /** undefined until the first render. */
  render: RenderState | undefined;
  /** Node and instance config Secrets by name. */
  secrets: Map<string, BuiltSecret>;
  /** Config Secrets no longer in the plan, by name. */
  staleSecrets: Map<string, SecretDeletion>;
  /** Service key -> load-balancer ingress IPs. */
  ingress: ReadonlyMap<string, string[]>;
  pools: Map<string, DesiredPoolStatus>;
  /** The VirtualIPs of LoadBalancer Services (planned on every pass, not only on renders). */
  loadBalancers: LoadBalancerPlan;
  /** When the next claim expires (a render is due then). */
  claimExpiresAt: number | undefined;
  /** Services some valid VirtualIP names (their changes need a render). */
  referencedServices: ReadonlySet<string>;
  /** spec.interface of every valid VirtualIP: only these names of an agent's published interfaces matter to a render. */
  referencedInterfaces: ReadonlySet<string>;
  /**
   * The VirtualIPs whose plan entry or problems this render may have changed
   * since the previous one ("all" when unknown: a full pass, or VirtualIPs left out as too large now or before).
   */
  touched: Set<string> | "all";
}

/** Whether a render left VirtualIPs out because an object they are in would be too large. */
export function leftOutAsTooLarge(render: RenderState | undefined): boolean {
  for (const list of render?.problems.values() ?? []) if (list.some((p) => p.reason === ReadyReason.TooLarge)) return true;
  return false;
}

/** The desired state before any render: nothing to write. */
export function emptyDesiredState(): DesiredState {
  return {
    render: undefined,
    secrets: new Map(),
    staleSecrets: new Map(),
    ingress: new Map(),
    pools: new Map(),
    loadBalancers: { apply: new Map(), remove: new Map() },
    claimExpiresAt: undefined,
    referencedServices: new Set(),
    referencedInterfaces: new Set(),
    touched: "all",
  };
}

/** What a render reads besides the cache. */
export interface RenderInput {
  cache: ObjectCache;
  /** The VirtualIPs of the cache, parsed (step 1). */
  gathered: GatheredVirtualIPs;
  /** The referenced VRRP auth Secrets, as read in step 1. */
  authSecrets: V1Secret[];
  planNamespace: string;
  options: RenderOptions & { claimGraceMs: number };
  render: Renderer;
  /** Whether the previous render left VirtualIPs out as too large (then which plan entries changed is not known). */
  previousRefused?: boolean;
  /** The desired Secrets of the previous render: reused where unchanged. */
  previousSecrets: ReadonlyMap<string, BuiltSecret>;
  now: number;
  /** Times the renderer alone (a metric). */
  startTimer?: () => () => void;
  /** How the renderer planned its last view, when it is a session (which VirtualIPs it may have changed). */
  lastPass?: () => SessionPass;
  /** Told how each render of this pass was planned (a metric), when the renderer is a session. */
  countPass?: (pass: SessionPass) => void;
  /** What the previous renders derived from every VirtualIP, brought up to date for what this one touched (default: derived anew). */
  derivations?: VirtualIPDerivations;
}

/** The renderer's input from the cache: the valid VirtualIPs and everything they are planned against. Pure. */
export function clusterViewOf(input: Pick<RenderInput, "cache" | "gathered" | "authSecrets" | "planNamespace" | "now">): ClusterView {
  const { cache, gathered, now } = input;
  const nodes = cache.values("Node");
  const deleting = new Map([...gathered.deleting].flatMap((k) => [[k, cache.get("VirtualIP", k)]]).filter((e): e is [string, RawObject] => e[1] !== undefined));
  const leases = agentLeasesByNode(
    nodes.map((n) => n.metadata?.name ?? ""),
    cache.entries("Lease"),
    input.planNamespace,
  );
  return buildClusterView({
    virtualIPs: gathered.valid,
    nodes,
    services: cache.values("Service"),
    endpointSlices: cache.values("EndpointSlice"),
    authSecrets: input.authSecrets,
    nodeInterfaces: nodeInterfaces(leases),
    pools: gatherPools(cache.values("VirtualIPPool")).valid,
    namespaces: cache.values("Namespace"),
    serviceCIDRs: gatherServiceCIDRs(cache.values("ServiceCIDR")),
    releasing: releasingAddresses(deleting),
    releasingRouterIds: releasingRouterIds(deleting),
    agentAddresses: agentHostAddresses(leases),
    agentCapabilities: agentCapabilities(leases),
    now,
  });
}

/** Plans the whole cluster: the renderer's plan and the Secrets, ingress and pool statuses that follow from it. */
export async function renderPass(input: RenderInput): Promise<Omit<DesiredState, "loadBalancers">> {
  const derivations = input.derivations ?? new VirtualIPDerivations();
  try {
    const { plan, touched } = await renderFitted(input);
    return followFromPlan(input, plan, touched, derivations);
  } catch (err) {
    // The renderer may have moved on without the derivations seeing what it changed: they derive everything next time.
    derivations.invalidate();
    throw err;
  }
}

/** The renderer's plan of the cluster, every published object within the size limit, and which VirtualIPs it may have changed. */
async function renderFitted(input: RenderInput): Promise<{ plan: ClusterPlan; touched: Set<string> | "all" }> {
  const view = clusterViewOf(input);
  const end = input.startTimer?.();
  let touched: Set<string> | "all" = new Set();
  const renderOnce = async (v: ClusterView): Promise<ClusterPlan> => {
    const out = await input.render(v, input.options);
    const last = input.lastPass?.();
    if (last) input.countPass?.(last);
    touched = last && last.changed !== "all" && touched !== "all" ? new Set([...touched, ...last.changed]) : "all";
    return out;
  };
  // Every published object must fit the API's size limit: the newest VirtualIP that would not fit is left out (TooLarge).
  const { plan, refused } = await fitPlan(view, renderOnce);
  end?.();
  return { plan, touched: refused.length > 0 || input.previousRefused ? "all" : touched };
}

/** What follows from a plan: the render's state, the desired Secrets and pool statuses, and what is derived from every VirtualIP. */
function followFromPlan(
  input: RenderInput,
  plan: ClusterPlan,
  touched: Set<string> | "all",
  derivations: VirtualIPDerivations,
): Omit<DesiredState, "loadBalancers"> {
  const { cache, gathered, planNamespace: namespace, now } = input;
  const pools = gatherPools(cache.values("VirtualIPPool"));
  const problems = new Map<string, Problem[]>();
  for (const p of plan.problems) problems.set(p.virtualIP, [...(problems.get(p.virtualIP) ?? []), p]);
  const excluded = new Set([...gathered.deleting, ...gathered.invalid.keys()]);
  // The published plan lives on in the desired Secrets only.
  const render: RenderState = { plan: { ...plan, nodes: [], published: [] }, problems, invalid: gathered.invalid, excluded };
  const secrets = planSecrets({ plan, nodes: cache.values("Node"), namespace, previous: input.previousSecrets });
  const desiredPools = new Map(plan.pools.map((p) => [p.name, buildPoolStatus(p, pools.invalid)]));
  for (const [name, error] of pools.invalid)
    if (!desiredPools.has(name))
      desiredPools.set(
        name,
        buildPoolStatus({ name, allocated: 0, available: 0, ready: { status: "False", reason: "InvalidSpec", message: error } }, pools.invalid),
      );
  const staleSecrets = new Map(planStaleConfigSecrets(new Set(secrets.keys()), cache.values("Secret")).map((d) => [d.name, d]));
  const derived = derivations.update({ cache, vips: gathered.byKey, plan, problems, touched, claimGraceMs: input.options.claimGraceMs, now });
  return { render, secrets, staleSecrets, pools: desiredPools, ...derived, touched };
}

/** Instance and node name -> its config Secret's name: the same string each pass, not hashed and built again. */
const instanceSecretNames = new Map<string, string>();
const nodeSecretNames = new Map<string, string>();

function remembered(names: Map<string, string>, of: string, derive: (of: string) => string): string {
  let name = names.get(of);
  if (name === undefined) {
    // Names of instances and nodes long gone would pile up: start afresh now and then.
    if (names.size >= 100_000) names.clear();
    name = derive(of);
    names.set(of, name);
  }
  return name;
}

/**
 * The desired Secrets of a plan: one per node (node.json) and one per VRRP
 * instance (instance.json). A Secret is built again only when what it
 * carries changed; the others are reused with their digests.
 */
export function planSecrets(input: {
  plan: ClusterPlan;
  nodes: readonly RawObject[];
  namespace: string;
  previous: ReadonlyMap<string, BuiltSecret>;
}): Map<string, BuiltSecret> {
  const { plan, namespace, previous } = input;
  const uids = new Map(input.nodes.map((n) => [n.metadata?.name ?? "", n.metadata?.uid ?? ""]));
  const desired = new Map<string, BuiltSecret>();
  const reuse = (name: string, hash: string, uid: string, build: () => V1Secret): void => {
    let built = previous.get(name);
    if (!built || built.hash !== hash || built.uid !== uid) {
      const secret = build();
      built = { hash, uid, secret, digests: dataDigests(secret) };
    }
    desired.set(name, built);
  };
  for (const ip of plan.published) {
    reuse(remembered(instanceSecretNames, ip.name, instanceSecretName), ip.hash, "", () => buildInstanceSecret({ namespace, plan: ip }));
  }
  for (const np of plan.nodes) {
    const uid = uids.get(np.node) ?? "";
    const name = remembered(nodeSecretNames, np.node, nodeConfigSecretName);
    reuse(name, np.hash, uid, () => buildNodeConfigSecret({ namespace, node: { name: np.node, uid }, plan: np }));
  }
  return desired;
}
