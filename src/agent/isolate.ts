// Per-instance isolation of a node's keepalived config: each VRRP instance is
// judged on its own, so one instance keepalived refuses (a missing interface,
// IPVS on a kernel without it) never freezes the others. The node runs every
// instance that passes, keeps the last good version of one that fails, and
// leaves out a new one that never passed. Pure apart from the injected
// config test (see docs/adr/0016-per-instance-isolation.md).
import { sha256Hex } from "../shared/hash.js";
import { z } from "zod";
import { nodeInstanceEntrySchema, publishedInstanceSchema, type NodeInstanceEntry, type PublishedInstance, type PublishedNode } from "../api/index.js";
import type { AssembleResult } from "../render/index.js";
import type { ConfigTestVerdict, NodeConfig } from "./config.js";

/** One instance as this node runs it: the node's own values and the shared instance. */
export interface InstancePart {
  entry: NodeInstanceEntry;
  instance: PublishedInstance;
}

/** Parts by the instance's key in the plan (NodeInstanceEntry.instance). */
export type InstanceParts = ReadonlyMap<string, InstancePart>;

/** An instance whose current version keepalived (or the assembler) refused on this node. */
export interface Rejection {
  /** The instance's key in the plan. */
  key: string;
  /** keepalived vrrp_instance name. */
  instance: string;
  /** Version of the refused part (see {@link partVersion}). */
  version: string;
  /** keepalived's words (redacted), or the assembler's. */
  problems: string[];
  /** "namespace/name" of the VirtualIPs of the refused version, sorted. */
  virtualIPs: string[];
  /** Whether the last good version of the instance keeps running. */
  kept: boolean;
  /** Whether keepalived refused it (true) or it could not be assembled with the rest (false: tried again on every change). */
  byKeepalived: boolean;
  /** When this version was first refused (epoch ms). */
  since: number;
}

/** The outcome of {@link judgeInstances}. */
export type Judgement =
  /** Run `candidate` (only the parts that passed, and the kept versions of those that did not). */
  | { kind: "accept"; candidate: NodeConfig; parts: InstanceParts; rejected: Rejection[]; tests: number }
  /** Not even the last good versions pass (the node's own part changed?): keep running what runs. */
  | { kind: "refuse"; problems: string[]; tests: number };

/** What {@link judgeInstances} reads. */
export interface JudgeInput {
  /** The node's part as published now. */
  node: PublishedNode;
  /** The published instances it names, by key. */
  instances: ReadonlyMap<string, PublishedInstance>;
  /** The config assembled from all of them, when the caller has it (saves assembling it again). */
  full?: NodeConfig;
  /** The parts of the running config, by key (empty when unknown). */
  lastGood: InstanceParts;
  /** Versions refused before, by key: not tested again while they stay the same. */
  known: ReadonlyMap<string, Rejection>;
  /** The running keepalived.conf: a config with the same bytes passed before and is not tested again. */
  running?: string;
  assemble(node: PublishedNode, instances: ReadonlyMap<string, PublishedInstance>): AssembleResult;
  /** Runs keepalived --config-test (and what it cannot see) on a config text. */
  test(config: string): Promise<ConfigTestVerdict>;
  now: number;
}

const versions = new WeakMap<PublishedInstance, string>();

/** A stable fingerprint of one part: the same bytes, the same version. */
export function partVersion(part: InstancePart): string {
  let inst = versions.get(part.instance);
  if (inst === undefined) {
    inst = sha256Hex(JSON.stringify(part.instance));
    versions.set(part.instance, inst);
  }
  return sha256Hex(`${JSON.stringify(part.entry)}\n${inst}`).slice(0, 32);
}

/** The parts `node` names, by key, as published (keys without a published instance are skipped). */
export function desiredParts(node: PublishedNode, instances: ReadonlyMap<string, PublishedInstance>): Map<string, InstancePart> {
  const out = new Map<string, InstancePart>();
  for (const entry of node.instances) {
    const instance = instances.get(entry.instance);
    if (instance) out.set(entry.instance, { entry, instance });
  }
  return out;
}

/**
 * The node part and instance map of a set of parts: in the published node's
 * order, then the kept instances it no longer names, by key.
 */
function layout(node: PublishedNode, parts: InstanceParts): { node: PublishedNode; instances: Map<string, PublishedInstance> } {
  const entries: NodeInstanceEntry[] = [];
  const instances = new Map<string, PublishedInstance>();
  const named = new Set(node.instances.map((e) => e.instance));
  const extra = [...parts.keys()].filter((k) => !named.has(k)).sort();
  for (const key of [...node.instances.map((e) => e.instance), ...extra]) {
    const p = parts.get(key);
    if (!p) continue;
    entries.push(p.entry);
    instances.set(key, p.instance);
  }
  return { node: { ...node, instances: entries }, instances };
}

/**
 * The last good instances the plan no longer names that carried a VirtualIP
 * of `virtualIPs`: when an instance is replaced by one that fails (an
 * interface change gives the instance another key), they are the
 * VirtualIPs' last good version.
 */
function formerCarriers(lastGood: InstanceParts, desired: ReadonlyMap<string, InstancePart>, virtualIPs: readonly string[]): string[] {
  const wanted = new Set(virtualIPs);
  return [...lastGood]
    .filter(([k, p]) => !desired.has(k) && p.instance.virtualIPs.some((v) => wanted.has(v)))
    .map(([k]) => k)
    .sort();
}

/** The config test run at most once per distinct text; a text equal to the running config passed before. */
class Tester {
  tests = 0;
  private readonly seen = new Map<string, ConfigTestVerdict>();

  constructor(private readonly input: JudgeInput) {}

  async run(config: string): Promise<ConfigTestVerdict> {
    if (config === this.input.running) return { ok: true, problems: [] };
    const hit = this.seen.get(config);
    if (hit) return hit;
    this.tests++;
    const verdict = await this.input.test(config);
    this.seen.set(config, verdict);
    return verdict;
  }
}

/** A trial: assemble `parts`, then test the text. */
async function trial(
  input: JudgeInput,
  tester: Tester,
  parts: InstanceParts,
): Promise<{ ok: true; config: NodeConfig } | { ok: false; problems: string[]; byKeepalived: boolean }> {
  const l = layout(input.node, parts);
  const res = input.assemble(l.node, l.instances);
  if (!res.ok) return { ok: false, problems: [res.problem], byKeepalived: false };
  const verdict = await tester.run(res.value.config);
  return verdict.ok ? { ok: true, config: res.value } : { ok: false, problems: verdict.problems, byKeepalived: true };
}

function withParts(base: InstanceParts, add: ReadonlyMap<string, InstancePart>, keys: readonly string[]): Map<string, InstancePart> {
  const out = new Map(base);
  for (const k of keys) {
    const p = add.get(k);
    if (p) out.set(k, p);
  }
  return out;
}

/**
 * Judges the published plan instance by instance.
 *
 * 1. Versions refused before stay out (their last good version, if any, takes
 *    their place); the rest is tested as one config. It passes: done (one
 *    test, as without isolation).
 * 2. Else the base, every instance at its last good version, is tested (it
 *    ran, so it usually passes without a test), and the changed instances are
 *    added to it by bisection: a group that passes with what was accepted so
 *    far is accepted, one that fails is split, a single one that fails is
 *    refused. About 2·k·log2(n) tests for k failures among n changes.
 * 3. An instance refused only because it could not be assembled with the rest
 *    (an address still held by another instance's last good version) is tried
 *    once more at the end.
 *
 * The result is sound: the accepted config is always one that passed as a
 * whole (the base, or the last trial that passed).
 */
export async function judgeInstances(input: JudgeInput): Promise<Judgement> {
  const tester = new Tester(input);
  const { desired, carried, fresh, base } = sortParts(input);

  // 1: Everything new at once, the versions refused before kept out (their last good versions in).
  const all = withParts(base, fresh, [...fresh.keys()]);
  for (const r of carried) if (!input.lastGood.has(r.key)) all.delete(r.key);
  for (const r of carried)
    if (!input.lastGood.has(r.key)) for (const k of formerCarriers(input.lastGood, desired, r.virtualIPs)) all.set(k, input.lastGood.get(k) as InstancePart);
  const first =
    carried.length === 0 && input.full
      ? await tester.run(input.full.config).then((v) => (v.ok ? { ok: true as const, config: input.full as NodeConfig } : { ok: false as const }))
      : await trial(input, tester, all);
  if (first.ok) {
    const kept = (vips: readonly string[]): boolean => [...all.values()].some((p) => p.instance.virtualIPs.some((v) => vips.includes(v)));
    return { kind: "accept", candidate: first.config, parts: all, rejected: carried.map((r) => ({ ...r, kept: kept(r.virtualIPs) })), tests: tester.tests };
  }

  // 2: The last good versions, then the changed instances by bisection.
  const baseTrial = await trial(input, tester, base);
  if (!baseTrial.ok) return { kind: "refuse", problems: baseTrial.problems, tests: tester.tests };
  const b = new Bisection(input, tester, { parts: base, config: baseTrial.config }, fresh);
  await b.tryGroup(b.changed());
  // 3: What could not be assembled may fit now that the others moved on.
  for (const [k, r] of [...b.refused]) if (!r.byKeepalived) await b.tryGroup([k]);
  // 4: A refused instance the plan gave a new key keeps its VirtualIPs' former instances, when they still fit.
  for (const key of [...b.refused.keys(), ...carried.map((r) => r.key)]) {
    const vips = fresh.get(key)?.instance.virtualIPs ?? carried.find((r) => r.key === key)?.virtualIPs ?? [];
    if (!b.accepted.has(key)) await b.tryFormer(formerCarriers(input.lastGood, desired, vips));
  }
  return { kind: "accept", candidate: b.config, parts: b.accepted, rejected: b.rejections(carried), tests: tester.tests };
}

/** The desired parts of a judgement: refused before and unchanged (carried), to test (fresh), and the last good versions (base). */
function sortParts(input: JudgeInput): {
  desired: Map<string, InstancePart>;
  carried: Rejection[];
  fresh: Map<string, InstancePart>;
  base: Map<string, InstancePart>;
} {
  const desired = desiredParts(input.node, input.instances);
  const carried: Rejection[] = [];
  const fresh = new Map<string, InstancePart>();
  for (const [key, part] of desired) {
    const known = input.known.get(key);
    if (known && known.byKeepalived && known.version === partVersion(part)) carried.push(known);
    else fresh.set(key, part);
  }
  const base = new Map<string, InstancePart>();
  for (const key of desired.keys()) {
    const good = input.lastGood.get(key);
    if (good) base.set(key, good);
  }
  return { desired, carried, fresh, base };
}

/** Steps 2-4 of {@link judgeInstances}: what was accepted so far (always a config that passed as a whole) and what was refused. */
class Bisection {
  readonly refused = new Map<string, { problems: string[]; byKeepalived: boolean }>();

  accepted: Map<string, InstancePart>;
  config: NodeConfig;

  /** Starts from `base`, the last good versions, which passed as `config`. */
  constructor(
    private readonly input: JudgeInput,
    private readonly tester: Tester,
    base: { parts: Map<string, InstancePart>; config: NodeConfig },
    private readonly fresh: ReadonlyMap<string, InstancePart>,
  ) {
    this.accepted = base.parts;
    this.config = base.config;
  }

  /** The fresh instances whose version differs from their last good one (or that have none). */
  changed(): string[] {
    return [...this.fresh.keys()].filter((k) => {
      const good = this.input.lastGood.get(k);
      return !good || partVersion(good) !== partVersion(this.fresh.get(k) as InstancePart);
    });
  }

  /** Adds `group` to what was accepted if the whole passes; else splits it, down to single refused instances. */
  async tryGroup(group: readonly string[]): Promise<void> {
    if (group.length === 0) return;
    const parts = withParts(this.accepted, this.fresh, group);
    const res = await trial(this.input, this.tester, parts);
    if (res.ok) {
      this.accepted = parts;
      this.config = res.config;
      for (const k of group) this.refused.delete(k);
      return;
    }
    if (group.length === 1) {
      this.refused.set(group[0] as string, { problems: res.problems, byKeepalived: res.byKeepalived });
      return;
    }
    const mid = Math.ceil(group.length / 2);
    await this.tryGroup(group.slice(0, mid));
    await this.tryGroup(group.slice(mid));
  }

  /** Adds the last good versions of `former` instances not accepted yet, if they pass with the rest. */
  async tryFormer(former: readonly string[]): Promise<void> {
    const missing = former.filter((k) => !this.accepted.has(k));
    if (missing.length === 0) return;
    const parts = withParts(this.accepted, this.input.lastGood, missing);
    const res = await trial(this.input, this.tester, parts);
    if (res.ok) {
      this.accepted = parts;
      this.config = res.config;
    }
  }

  /** Every refusal, carried or new, each marked `kept` when some accepted instance still carries its VirtualIPs. */
  rejections(carried: readonly Rejection[]): Rejection[] {
    const accepted = this.accepted;
    const keptFor = (vips: readonly string[]): boolean =>
      accepted.size > 0 && [...accepted.values()].some((p) => p.instance.virtualIPs.some((v) => vips.includes(v)));
    const rejected: Rejection[] = carried.map((r) => ({ ...r, kept: accepted.has(r.key) || keptFor(r.virtualIPs) }));
    for (const [key, r] of this.refused) {
      const part = this.fresh.get(key) as InstancePart;
      const version = partVersion(part);
      const before = this.input.known.get(key);
      rejected.push({
        key,
        instance: part.instance.name,
        version,
        problems: r.problems,
        virtualIPs: [...part.instance.virtualIPs].sort(),
        kept: accepted.has(key) || keptFor(part.instance.virtualIPs),
        byKeepalived: r.byKeepalived,
        since: before?.version === version ? before.since : this.input.now,
      });
    }
    return rejected.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }
}

export const MAX_REJECTION_MESSAGE = 512;

/** The spec field a keepalived problem most likely comes from. */
export function fieldOfProblem(problem: string): string {
  if (/ipvs|virtual_server|real_server/i.test(problem)) return "spec.forwarding";
  if (/interface/i.test(problem)) return "spec.interface";
  if (/unicast|peer/i.test(problem)) return "spec.vrrp.unicast";
  if (/auth/i.test(problem)) return "spec.vrrp.authSecretRef";
  return "spec";
}

/** Printable ASCII only, whitespace collapsed: what keepalived said cannot carry control characters or markup into another object. */
export function sanitizeText(text: string): string {
  return text
    .replace(/[^\x20-\x7e]/g, " ")
    .replace(/\s+/g, " ")
    .trim();
}

/**
 * The message a node reports on each VirtualIP of a refused instance: the
 * field, keepalived's words (bounded) and what runs meanwhile.
 */
export function rejectionMessage(r: Rejection): string {
  const words = sanitizeText(r.problems.slice(0, 3).join("; "));
  const field = fieldOfProblem(words);
  const tail = r.kept ? "the last good version keeps running" : "it does not run on this node";
  const head = `${field}: keepalived refused VRRP instance ${r.instance}: `;
  const room = MAX_REJECTION_MESSAGE - head.length - tail.length - 2;
  const cut = words.length > room ? `${words.slice(0, Math.max(0, room - 1))}…` : words;
  return `${head}${cut}; ${tail}`;
}

/** VirtualIP key -> the message and since of the rejection of the instance that carries it. */
export function rejectionsByVirtualIP(rejected: readonly Rejection[]): Map<string, { message: string; since: number }> {
  const out = new Map<string, { message: string; since: number }>();
  for (const r of rejected) {
    const message = rejectionMessage(r);
    for (const key of r.virtualIPs) if (!out.has(key)) out.set(key, { message, since: r.since });
  }
  return out;
}

/** Content of accepted.json in the runtime directory: the parts of the running config, so that an agent restart still knows each instance's last good version. */
const acceptedFileSchema = z
  .object({
    parts: z.array(z.object({ key: z.string().min(1), entry: nodeInstanceEntrySchema, instance: publishedInstanceSchema }).strict()),
  })
  .strict();

/** The text of accepted.json for `parts`. */
export function serializeParts(parts: InstanceParts): string {
  const list = [...parts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([key, p]) => ({ key, entry: p.entry, instance: p.instance }));
  return `${JSON.stringify({ parts: list })}\n`;
}

/** Parses accepted.json; anything unreadable is an empty map (the next config is then judged without last good versions). */
export function parseParts(text: string | undefined): Map<string, InstancePart> {
  if (text === undefined) return new Map();
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return new Map();
  }
  const res = acceptedFileSchema.safeParse(raw);
  if (!res.success) return new Map();
  return new Map(res.data.parts.map((p) => [p.key, { entry: p.entry, instance: p.instance }]));
}
