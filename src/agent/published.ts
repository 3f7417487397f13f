// The agent's view of the published plan: its node Secret (node.json) and the
// instance Secrets (instance.json), each parsed once per version, and the
// decision taken on them: a candidate config to test and install, wait for
// the rest of the plan, or refuse. Pure (state in memory, no I/O).
import {
  ANNOTATION_INSTANCE,
  instanceSecretName,
  nodeConfigSecretName,
  type NodeInstanceMap,
  type PublishedInstance,
  type PublishedNode,
} from "../api/index.js";
import { assembleNodeConfig } from "../render/index.js";
import { parseInstanceSecret, parseNodeSecret, type NodeConfig, type Parsed } from "./config.js";

/** A Secret as the view needs it: its name, base64 data and annotations. */
export interface PlanSecret {
  name: string;
  data: Readonly<Record<string, string>>;
  annotations?: Readonly<Record<string, string>>;
}

/** What to do with the plan as it stands. */
export type PlanDecision =
  /**
   * A complete config: compare with the running one, test, install.
   * `node` and `instances` are what it was assembled from (to judge each
   * instance on its own, see isolate.ts).
   */
  | { kind: "apply"; candidate: NodeConfig; node: PublishedNode; instances: ReadonlyMap<string, PublishedInstance> }
  /**
   * Not complete yet (no node Secret, an instance not published yet, an
   * address moving between instances): keep the running config, decide
   * again on the next change. `missing`: the instances not published yet.
   */
  | { kind: "wait"; problem: string; missing: string[] }
  /** Unreadable or unsafe: refuse like a failed config test; `virtualIPs` get the Event. */
  | { kind: "refuse"; problem: string; virtualIPs: string[] };

/** One Secret's content (as a comparable text) and what it parsed to. */
interface Entry<T> {
  text: string;
  parsed: Parsed<T>;
  /** The instance key the Secret says it carries (annotation), if it says. */
  carries?: string;
}

/** Templates kept between assemblies, keyed by the (stable) parsed instance. */
type Templates = NonNullable<Parameters<typeof assembleNodeConfig>[2]>;

/** How many items a message lists before "and N more". */
const SHOWN = 5;

function listNames(names: string[]): string {
  return names.slice(0, SHOWN).join(", ") + (names.length > SHOWN ? `, and ${names.length - SHOWN} more` : "");
}

/** A comparable text of what the view reads from a Secret. */
function contentOf(secret: PlanSecret): string {
  return JSON.stringify([secret.data, secret.annotations?.[ANNOTATION_INSTANCE] ?? null]);
}

/**
 * The published plan as one node's agent sees it. The watches feed it; each
 * feed answers whether the change can matter to this node (the Secret of an
 * instance it does not name cannot), so that writes for other nodes cost no
 * assembly. A parsed instance stays the same object while its Secret's bytes
 * do, so the prepared templates of unchanged instances are reused.
 *
 * Instances are found by Secret name: a node entry names an instance by its
 * key in the plan, whose Secret is `instanceSecretName(key)`.
 */
export class PublishedPlanView {
  private readonly nodeSecret: string;
  private nodeSynced = false;
  private instancesSynced = false;
  private nodeEntry?: Entry<PublishedNode>;
  /** Instance Secret name -> its content and parse result. */
  private readonly secrets = new Map<string, Entry<PublishedInstance>>();
  /** Secret names of the instances the node names (empty while node.json does not parse). */
  private named = new Set<string>();
  private readonly templates: Templates = new WeakMap();
  /** Rendered virtual_servers kept between assemblies, keyed by the (stable) parsed server. */
  private readonly serverTexts: NonNullable<Parameters<typeof assembleNodeConfig>[3]> = new WeakMap();

  constructor(private readonly node: string) {
    this.nodeSecret = nodeConfigSecretName(node);
  }

  /** Whether both watches have listed at least once (before, no decision is meaningful). */
  get synced(): boolean {
    return this.nodeSynced && this.instancesSynced;
  }

  /** The node's own part of the plan as it parsed (undefined while missing or unreadable). */
  get publishedNode(): PublishedNode | undefined {
    return this.nodeEntry?.parsed.ok ? this.nodeEntry.parsed.value : undefined;
  }

  /** vrrp_instance name -> advert interval (ms) of the published instances the node names. */
  advertIntervals(): Map<string, number> {
    const out = new Map<string, number>();
    for (const e of this.publishedNode?.instances ?? []) {
      const got = this.secrets.get(instanceSecretName(e.instance));
      if (got?.parsed.ok) out.set(got.parsed.value.name, got.parsed.value.advertIntervalMs);
    }
    return out;
  }

  /**
   * Whether another node takes part in the named vrrp_instance: its unicast
   * peers list more than this node (a multicast instance: assumed).
   */
  hasPeers(instance: string): boolean {
    for (const e of this.publishedNode?.instances ?? []) {
      const got = this.secrets.get(instanceSecretName(e.instance));
      if (!got?.parsed.ok || got.parsed.value.name !== instance) continue;
      const inst = got.parsed.value;
      return !inst.unicast || inst.peers.some((p) => p !== e.sourceIP);
    }
    return false;
  }

  /** Adopts the node Secret (undefined: it does not exist). Answers whether anything changed. */
  setNode(secret: PlanSecret | undefined): boolean {
    const first = !this.nodeSynced;
    this.nodeSynced = true;
    const text = secret ? contentOf(secret) : undefined;
    if (!first && text === this.nodeEntry?.text) return false;
    if (!secret || text === undefined) {
      this.nodeEntry = undefined;
      this.named = new Set();
      return true;
    }
    const parsed = parseNodeSecret(secret.name, secret.data, this.node);
    this.nodeEntry = { text, parsed };
    this.named = new Set(parsed.ok ? parsed.value.instances.map((e) => instanceSecretName(e.instance)) : []);
    return true;
  }

  /** Adopts an added or modified instance Secret. Answers whether it can matter to this node. */
  putInstance(secret: PlanSecret): boolean {
    const text = contentOf(secret);
    if (this.secrets.get(secret.name)?.text === text) return false;
    const carries = secret.annotations?.[ANNOTATION_INSTANCE];
    this.secrets.set(secret.name, { text, parsed: parseInstanceSecret(secret.name, secret.data), ...(carries !== undefined ? { carries } : {}) });
    return this.named.has(secret.name);
  }

  /** Forgets a deleted instance Secret. Answers whether it can matter to this node. */
  deleteInstance(name: string): boolean {
    if (!this.secrets.delete(name)) return false;
    return this.named.has(name);
  }

  /** Replaces every instance Secret with a full list (a relist). Answers whether any change can matter to this node. */
  replaceInstances(secrets: readonly PlanSecret[]): boolean {
    const first = !this.instancesSynced;
    this.instancesSynced = true;
    let relevant = first;
    const listed = new Set(secrets.map((s) => s.name));
    for (const name of [...this.secrets.keys()]) if (!listed.has(name) && this.deleteInstance(name)) relevant = true;
    for (const s of secrets) if (this.putInstance(s)) relevant = true;
    return relevant;
  }

  /**
   * Decides on the plan as it stands. `applied` (the running instance map)
   * supplies the VirtualIPs of an instance whose Secret does not parse, for
   * the refusal's Events.
   */
  decide(applied?: NodeInstanceMap): PlanDecision {
    if (!this.synced) return { kind: "wait", problem: "the config Secrets have not been listed yet", missing: [] };
    const entry = this.nodeEntry;
    if (!entry) return { kind: "wait", problem: `node Secret ${this.nodeSecret} not found`, missing: [] };
    if (!entry.parsed.ok) return { kind: "refuse", problem: entry.parsed.error, virtualIPs: [] };
    const node = entry.parsed.value;
    const instances = new Map<string, PublishedInstance>();
    const broken: string[] = [];
    for (const e of node.instances) {
      const got = this.secrets.get(instanceSecretName(e.instance));
      if (!got) continue;
      if (!got.parsed.ok) broken.push(`instance ${e.instance}: ${got.parsed.error}`);
      else if (got.carries !== undefined && got.carries !== e.instance) {
        broken.push(`instance ${e.instance}: Secret ${instanceSecretName(e.instance)} carries instance ${got.carries}`);
      } else instances.set(e.instance, got.parsed.value);
    }
    const virtualIPs = (): string[] => virtualIPsOf(node, instances, applied);
    if (broken.length > 0) {
      const more = broken.length > SHOWN ? [`and ${broken.length - SHOWN} more instance Secrets`] : [];
      return { kind: "refuse", problem: [...broken.slice(0, SHOWN), ...more].join("; "), virtualIPs: virtualIPs() };
    }
    const res = assembleNodeConfig(node, instances, this.templates, this.serverTexts);
    if (res.ok) return { kind: "apply", candidate: res.value, node, instances };
    if (res.waiting) {
      const secrets = res.missing.map(instanceSecretName);
      const problem = secrets.length > 0 ? `${res.problem} (Secrets ${listNames(secrets)})` : res.problem;
      return { kind: "wait", problem, missing: res.missing };
    }
    return { kind: "refuse", problem: this.explainRefusal(node, instances, res.problem), virtualIPs: virtualIPs() };
  }

  /** Assembles a config from parts of the plan, reusing the prepared templates. */
  assemble(node: PublishedNode, instances: ReadonlyMap<string, PublishedInstance>): ReturnType<typeof assembleNodeConfig> {
    return assembleNodeConfig(node, instances, this.templates, this.serverTexts);
  }

  /**
   * Names the Secret behind a value that is not safe to render: the node
   * Secret when the node's own part fails alone, else each instance Secret
   * whose instance fails alone (assembled with just that one). Only runs on
   * a refusal. A clash between instances keeps the assembler's message.
   */
  private explainRefusal(node: PublishedNode, instances: ReadonlyMap<string, PublishedInstance>, problem: string): string {
    if (!assembleNodeConfig({ ...node, instances: [] }, instances).ok) return `Secret ${this.nodeSecret}: ${problem}`;
    const culprits = node.instances.flatMap((e) => {
      const alone = assembleNodeConfig({ ...node, instances: [e] }, instances, this.templates, this.serverTexts);
      return alone.ok ? [] : [`Secret ${instanceSecretName(e.instance)} (instance ${e.instance}): ${alone.problem}`];
    });
    if (culprits.length === 0) return problem;
    const more = culprits.length > SHOWN ? [`and ${culprits.length - SHOWN} more instance Secrets`] : [];
    return [...culprits.slice(0, SHOWN), ...more].join("; ");
  }
}

/** "namespace/name" of every VirtualIP of the instances `node` names: as published, or else as applied. Sorted. */
function virtualIPsOf(node: PublishedNode, instances: ReadonlyMap<string, PublishedInstance>, applied: NodeInstanceMap | undefined): string[] {
  const keys = new Set<string>();
  for (const e of node.instances) {
    const published = instances.get(e.instance);
    const vips = published ? published.virtualIPs : (applied?.instances.find((i) => i.instance === e.instance)?.virtualIPs ?? []);
    for (const k of vips) keys.add(k);
  }
  return [...keys].sort();
}
