// Config sync: the published plan (fed by the watches) into the config the
// node runs. Decides on the plan one change at a time, judges it instance by
// instance (gate.ts, ADR 0016), installs what passes, reloads keepalived and
// reports refusals. No I/O of its own: files, keepalived and Events go
// through the ports.
import type { NodeInstanceMap } from "../api/index.js";
import { describeError } from "../kube/client.js";
import type { Clock } from "../shared/clock.js";
import type { Logger } from "../shared/logger.js";
import { ConfigGate } from "./gate.js";
import { fieldOfProblem, sanitizeText } from "./isolate.js";
import type { AgentMetrics } from "./metrics.js";
import type { ConfigFiles, AgentKube, KeepalivedControl } from "./ports.js";
import { PublishedPlanView, type PlanDecision } from "./published.js";
import { virtualIPKeys } from "./status.js";
import { splitKey } from "../shared/keys.js";

export interface ConfigSyncOptions {
  node: string;
  plan: PublishedPlanView;
  files: ConfigFiles;
  kube: Pick<AgentKube, "recordWarning">;
  keepalived(): KeepalivedControl;
  clock: Clock;
  logger: Logger;
  metrics: AgentMetrics;
  /** A new instance map runs (`before`: the one it replaces). */
  onApplied(before: NodeInstanceMap | undefined, map: NodeInstanceMap): void;
  /** VirtualIPs whose refusal started or ended: report them again. */
  onRejectionsChanged(keys: readonly string[]): void;
  /** Runs before each decision (the track files of the plan, planned-handover.ts). */
  beforeDecide(): Promise<void>;
  /** The uid of a VirtualIP, when known (for Events). */
  uid(key: string): string | undefined;
}

/** A refusal: of the whole plan, or (with `instance`) of one VRRP instance. */
interface Refusal {
  problems: string[];
  virtualIPs: string[];
  hash?: string;
  instance?: string;
  kept?: boolean;
}

/** The config the node runs and the way from the published plan to it. */
export class ConfigSync {
  /** Judges each VRRP instance on its own and installs what passes (ADR 0016). */
  readonly gate: ConfigGate;
  private config?: string;
  private map?: NodeInstanceMap;
  /** The problem of the last refusal before config-test (the same one is not refused again). */
  private lastRefusedProblem?: string;
  /** What the agent waits for, while it waits. */
  private waitingFor?: string;
  private pending = false;
  private syncing?: Promise<void>;

  constructor(private readonly opts: ConfigSyncOptions) {
    this.gate = new ConfigGate({
      assemble: (node, instances) => opts.plan.assemble(node, instances),
      test: (config) => opts.files.test(config),
      install: (installed) => opts.files.install(installed),
      installInstances: (installed) => opts.files.installInstances(installed),
      now: () => opts.clock.now(),
    });
  }

  /** The instance map of the running config (undefined before the first). */
  get applied(): NodeInstanceMap | undefined {
    return this.map;
  }

  /** Whether a config is installed (keepalived may run on it). */
  get hasConfig(): boolean {
    return this.config !== undefined;
  }

  /** Resumes the config installed by an earlier run; answers whether there was one (then start keepalived). */
  async resume(): Promise<boolean> {
    const running = await this.opts.files.readRunning();
    if (running.config === undefined || !running.instances) return false;
    this.gate.resume(await this.opts.files.readAccepted());
    this.config = running.config;
    this.setApplied(running.instances);
    return true;
  }

  /** A watch changed the plan view; `relevant`: the change can matter to this node's config. */
  changed(relevant: boolean): void {
    if (!relevant || !this.opts.plan.synced) return;
    this.pending = true;
    this.syncing ??= this.drain().finally(() => (this.syncing = undefined));
  }

  /** Resolves when no sync is under way. */
  async settled(): Promise<void> {
    await this.syncing;
  }

  /** The node changed (an interface came, IPVS was loaded): instances refused before are tested again. */
  retestRefused(): boolean {
    if (this.gate.rejections().size === 0) return false;
    this.gate.forgetRejections();
    this.changed(true);
    return true;
  }

  /** Decides on the plan one change at a time; a burst collapses to one decision on the latest view. */
  private async drain(): Promise<void> {
    while (this.pending) {
      this.pending = false;
      try {
        await this.sync();
      } catch (err) {
        this.opts.logger.error("Failed to sync config", { error: err instanceof Error ? err.message : String(err) });
      }
    }
  }

  private async sync(): Promise<void> {
    await this.opts.beforeDecide();
    const decision = this.opts.plan.decide(this.map);
    this.setWaiting(decision);
    if (decision.kind === "wait") return;
    if (decision.kind === "refuse") {
      if (decision.problem === this.lastRefusedProblem) {
        this.opts.logger.debug("Config still refused", { problem: decision.problem });
        return;
      }
      this.lastRefusedProblem = decision.problem;
      this.refuse({ problems: [decision.problem], virtualIPs: decision.virtualIPs });
      return;
    }
    this.lastRefusedProblem = undefined;
    await this.apply(decision);
  }

  /**
   * Tracks waiting for the rest of the published plan: the gauge, and a log
   * line when the reason changes (info) or stays (debug). Waiting is not a
   * failure: the running config keeps running.
   */
  private setWaiting(decision: PlanDecision): void {
    const log = this.opts.logger;
    const before = this.waitingFor;
    this.waitingFor = decision.kind === "wait" ? decision.problem : undefined;
    this.opts.metrics.configWaiting.set(decision.kind === "wait" ? 1 : 0);
    if (decision.kind === "wait") {
      const fields = { problem: decision.problem, missing: decision.missing.slice(0, 20), keepsRunning: this.config !== undefined };
      if (decision.problem !== before) log.info("Waiting for the published plan", fields);
      else log.debug("Still waiting for the published plan", fields);
    } else if (before !== undefined) {
      log.info("Stopped waiting for the published plan", { waitedFor: before, decision: decision.kind });
    }
  }

  /**
   * Judges the plan instance by instance (ADR 0016), installs what passes and
   * reloads keepalived; a refused instance is reported on its own VirtualIPs only.
   */
  private async apply(decision: Extract<PlanDecision, { kind: "apply" }>): Promise<void> {
    const log = this.opts.logger;
    const outcome = await this.gate.apply(
      { node: decision.node, instances: decision.instances, full: decision.candidate },
      { config: this.config, instances: this.map },
    );
    if (outcome.kind === "refused") {
      if (!outcome.repeated) this.refuse({ problems: outcome.problems, virtualIPs: virtualIPKeys(decision.candidate.instances), hash: outcome.hash });
      return;
    }
    for (const r of outcome.newlyRejected) this.refuse({ problems: r.problems, virtualIPs: r.virtualIPs, instance: r.instance, kept: r.kept });
    const candidate = outcome.candidate;
    if (outcome.action !== "none") {
      this.config = candidate.config;
      this.setApplied(candidate.instances);
    }
    if (outcome.touched.length > 0) this.opts.onRejectionsChanged(outcome.touched);
    if (outcome.tests > 1) log.info("Judged VRRP instances one by one", { tests: outcome.tests, refused: outcome.newlyRejected.map((r) => r.instance) });
    const keepalived = this.opts.keepalived();
    if (outcome.action === "none") {
      log.debug("Config unchanged", { hash: candidate.hash });
      if (keepalived.phase === "idle") await keepalived.start();
      return;
    }
    if (outcome.action === "write-instances") {
      log.info("Updated instance map", { hash: candidate.hash });
      return;
    }
    const how = await keepalived.reload();
    if (how === "reloaded") this.opts.metrics.reloads.inc();
    log.info("Applied keepalived config", { hash: candidate.hash, keepalived: how, instances: candidate.instances.instances.length });
  }

  private setApplied(map: NodeInstanceMap): void {
    const before = this.map;
    this.map = map;
    this.opts.onApplied(before, map);
  }

  /**
   * A refusal: counted, logged, and an Event on each VirtualIP it concerns
   * (with `instance`, only that instance's). The last good config keeps running.
   */
  private refuse(what: Refusal): void {
    this.opts.metrics.configTestFailures.inc();
    const running = this.config !== undefined;
    this.opts.logger.error("Refused keepalived config", {
      hash: what.hash,
      instance: what.instance,
      problems: what.problems,
      keepsRunning: what.instance ? what.kept : running,
    });
    const message = refusalMessage(this.opts.node, what, running);
    for (const key of what.virtualIPs) {
      this.opts.kube
        .recordWarning({ ref: splitKey(key), uid: this.opts.uid(key), reason: "ConfigTestFailed", message, now: this.opts.clock.now() })
        .catch((err: unknown) => this.opts.logger.warn("Failed to record Event", { virtualIP: key, error: describeError(err) }));
    }
  }
}

/** The Event message of a refusal: what was refused, keepalived's words (sanitized), and what keeps running. */
export function refusalMessage(node: string, what: Refusal, running: boolean): string {
  const hash = what.hash ? ` (hash ${what.hash.slice(0, 12)})` : "";
  const tail = what.instance
    ? what.kept
      ? "its last good version keeps running"
      : "it does not run on this node; the other instances do"
    : running
      ? "the last good config keeps running"
      : "keepalived is not started";
  const words = sanitizeText(what.problems.slice(0, 5).join("; ")).slice(0, 800);
  const subject = what.instance ? `VRRP instance ${what.instance} (${fieldOfProblem(words)})` : `its keepalived config${hash}`;
  return `Node ${node} refused ${subject}: ${words}; ${tail}`;
}
