// The agent's config gate: turns the published plan into the config the node
// runs, instance by instance (isolate.ts), installs it, and remembers the last
// good version of every instance and the versions keepalived refused. No I/O
// of its own: the config test and the installs are injected.
import type { NodeInstanceMap, PublishedInstance, PublishedNode } from "../api/index.js";
import type { AssembleResult } from "../render/index.js";
import { planConfigSync, type ConfigTestVerdict, type NodeConfig, type RunningConfig } from "./config.js";
import { judgeInstances, rejectionsByVirtualIP, type InstanceParts, type Rejection } from "./isolate.js";

export interface ConfigGateOptions {
  assemble(node: PublishedNode, instances: ReadonlyMap<string, PublishedInstance>): AssembleResult;
  test(config: string): Promise<ConfigTestVerdict>;
  /** Installs a new live config with its instance map and parts. */
  install(installed: { config: string; instances: NodeInstanceMap; parts: InstanceParts }): Promise<void>;
  /** Replaces only the instance map and parts (same config bytes). */
  installInstances(installed: { instances: NodeInstanceMap; parts: InstanceParts }): Promise<void>;
  now(): number;
}

/** What the gate did with one plan. */
export type GateOutcome =
  /** Nothing runs differently: not even the last good versions pass; the running config stays. */
  | { kind: "refused"; problems: string[]; hash: string; tests: number; repeated: boolean }
  | {
      kind: "accepted";
      /** none: same bytes; write-instances: only the map changed; apply: a new config was installed (reload it). */
      action: "none" | "write-instances" | "apply";
      candidate: NodeConfig;
      /** Rejections of versions not refused before (for Events). */
      newlyRejected: Rejection[];
      /** Whether the set of rejections changed (report the VirtualIPs of both). */
      rejectionsChanged: boolean;
      /** VirtualIPs whose rejection ended or started. */
      touched: string[];
      tests: number;
    };

/** Per-instance judging and installing, with the memory it needs between plans. */
export class ConfigGate {
  private lastGood: InstanceParts = new Map();
  private known = new Map<string, Rejection>();
  private lastRefusedHash?: string;
  private byVirtualIP = new Map<string, { message: string; since: number }>();

  constructor(private readonly opts: ConfigGateOptions) {}

  /** Adopts the parts of the config installed by an earlier agent run. */
  resume(parts: InstanceParts): void {
    this.lastGood = parts;
  }

  /** Forgets refused versions, so they are tested again (the node changed: an interface came, IPVS was loaded). */
  forgetRejections(): void {
    this.known.clear();
    this.lastRefusedHash = undefined;
  }

  /** The current rejections, by VirtualIP key: message and since. */
  rejections(): ReadonlyMap<string, { message: string; since: number }> {
    return this.byVirtualIP;
  }

  /** Judges the published plan against what runs and installs the result. */
  async apply(
    plan: { node: PublishedNode; instances: ReadonlyMap<string, PublishedInstance>; full: NodeConfig },
    running: RunningConfig,
  ): Promise<GateOutcome> {
    const hash = plan.full.hash;
    const judged = await judgeInstances({
      node: plan.node,
      instances: plan.instances,
      full: plan.full,
      lastGood: this.lastGood,
      known: this.known,
      ...(running.config !== undefined ? { running: running.config } : {}),
      assemble: (n, i) => this.opts.assemble(n, i),
      test: (c) => this.opts.test(c),
      now: this.opts.now(),
    });
    if (judged.kind === "refuse") {
      const repeated = this.lastRefusedHash === hash;
      this.lastRefusedHash = hash;
      return { kind: "refused", problems: judged.problems, hash, tests: judged.tests, repeated };
    }
    this.lastRefusedHash = undefined;
    const candidate = judged.candidate;
    const sync = planConfigSync(candidate, running);
    if (sync.action === "apply") await this.opts.install({ config: candidate.config, instances: candidate.instances, parts: judged.parts });
    else if (sync.action === "write-instances" || !sameParts(this.lastGood, judged.parts))
      await this.opts.installInstances({ instances: candidate.instances, parts: judged.parts });
    this.lastGood = judged.parts;

    const newlyRejected = judged.rejected.filter((r) => this.known.get(r.key)?.version !== r.version);
    this.known = new Map(judged.rejected.filter((r) => r.byKeepalived).map((r) => [r.key, r]));
    const next = rejectionsByVirtualIP(judged.rejected);
    const touched = new Set<string>();
    for (const [k, v] of next) if (this.byVirtualIP.get(k)?.message !== v.message) touched.add(k);
    for (const k of this.byVirtualIP.keys()) if (!next.has(k)) touched.add(k);
    this.byVirtualIP = next;
    return {
      kind: "accepted",
      action: sync.action,
      candidate,
      newlyRejected,
      rejectionsChanged: touched.size > 0,
      touched: [...touched].sort(),
      tests: judged.tests,
    };
  }
}

function sameParts(a: InstanceParts, b: InstanceParts): boolean {
  if (a.size !== b.size) return false;
  for (const [k, p] of a) {
    const q = b.get(k);
    if (!q || q.instance !== p.instance || JSON.stringify(q.entry) !== JSON.stringify(p.entry)) return false;
  }
  return true;
}
