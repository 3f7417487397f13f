// Placement and the planned handover, as the agent wires them (docs/adr/0018):
// the track files the plan asks for, a handover when the node begins to hand
// over (cordoned, excluded), and the one before keepalived stops (SIGTERM).
// The handover itself is handover.ts; I/O goes through the ports.
import { HANDOVER_TRACK_FILE, type NodeInstanceMap } from "../api/index.js";
import { sleep, type Clock } from "../shared/clock.js";
import type { Logger } from "../shared/logger.js";
import { endedMasters, handOver, type HandoverPorts } from "./handover.js";
import type { NotifyEvent } from "./notify.js";
import { effectivePriority, planTrackValues } from "./placement.js";
import type { KeepalivedControl, LeftoverCleaner, TrackFileWriter } from "./ports.js";
import type { PublishedPlanView } from "./published.js";
import type { StateReport } from "./state-report.js";

export interface PlannedHandoverOptions {
  plan: PublishedPlanView;
  state: Pick<StateReport, "masters" | "fold" | "waiters" | "states" | "refreshPriorities">;
  trackFiles: TrackFileWriter;
  leftovers: Pick<LeftoverCleaner, "cleanup">;
  keepalived(): Pick<KeepalivedControl, "phase">;
  applied(): NodeInstanceMap | undefined;
  vrrpPid(): Promise<number | undefined>;
  /** Resolves when no config sync is under way. */
  syncSettled(): Promise<void>;
  clock: Clock;
  logger: Logger;
  /** How long a planned handover may take (within the Pod's terminationGracePeriodSeconds). Default 15 s. */
  timeoutMs?: number;
}

/** Track files (handover, standby) and the planned handover. */
export class PlannedHandover {
  private stopping = false;
  private handoverReason?: string;
  private handingOver?: Promise<void>;

  constructor(private readonly opts: PlannedHandoverOptions) {}

  /** A handover of an earlier run ends with it; the plan sets it again while the node is cordoned. */
  async reset(): Promise<void> {
    await this.opts.trackFiles.setHandover(false);
  }

  /** Writes the track files the plan asks for; starts a handover when the node begins to hand over. */
  async syncPlacement(): Promise<void> {
    const node = this.opts.plan.publishedNode;
    if (!node) return;
    const changed = await this.opts.trackFiles.write(planTrackValues(node, this.stopping));
    if (changed.length > 0) this.opts.logger.info("Updated track files", { changed, handover: node.handover });
    if (changed.includes(HANDOVER_TRACK_FILE)) this.opts.state.refreshPriorities();
    const began = node.handover !== undefined && this.handoverReason === undefined;
    this.handoverReason = node.handover;
    if (began && !this.stopping) this.handingOver ??= this.runHandover(`node ${node.handover}`).finally(() => (this.handingOver = undefined));
  }

  /** The agent is stopping: every instance to the lowest priority, MASTERs handed over, then keepalived may stop. */
  async beforeStop(): Promise<void> {
    this.stopping = true;
    try {
      // A sync under way may still write the handover file from the plan; let it finish first.
      await this.opts.syncSettled();
      await this.handingOver;
      if (await this.opts.trackFiles.setHandover(true)) this.opts.state.refreshPriorities();
      if (this.opts.keepalived().phase === "running") await this.runHandover("agent stopping");
    } catch (err) {
      this.opts.logger.warn("Failed to hand over before stopping", { error: err instanceof Error ? err.message : String(err) });
    }
  }

  private async runHandover(reason: string): Promise<void> {
    const { clock, logger } = this.opts;
    const started = clock.now();
    const res = await handOver(this.ports(), this.opts.timeoutMs ?? 15_000);
    if (res.masters.length === 0) return;
    const fields = {
      reason,
      instances: res.masters,
      stillMaster: res.stillMaster,
      pausedMs: res.pausedMs,
      restartedVrrp: res.restarted,
      ms: clock.now() - started,
    };
    if (res.stillMaster.length === 0) logger.info("Handed over MASTER instances", fields);
    else logger.warn("Some instances are still MASTER after the handover (no BACKUP took over)", fields);
  }

  private ports(): HandoverPorts {
    const { plan, state, clock } = this.opts;
    return {
      masters: () => state.masters(),
      advertIntervals: () => plan.advertIntervals(),
      hasPeers: (instance) => plan.hasPeers(instance),
      vrrpPid: () => this.opts.vrrpPid(),
      release: async (names) => {
        const instances = (this.opts.applied()?.instances ?? []).filter((i) => names.includes(i.instance));
        // Only what keepalived added: never an address the interface had before it started (ADR 0016).
        await this.opts.leftovers.cleanup(instances, "handover");
        // The node holds none of them now and runs no VRRP process until keepalived starts a new one,
        // which reports them BACKUP (its start may be delayed: keepalived spaces restarts of a process
        // that ran less than a minute; or it reported already).
        const now = clock.now();
        const ended = new Set(endedMasters(state.states, names));
        const handover = this.opts.trackFiles.handover;
        for (const i of instances)
          if (ended.has(i.instance))
            state.fold({ kind: "state", instance: i.instance, state: "FAULT", priority: effectivePriority(i.priority, handover) } satisfies NotifyEvent, now);
      },
      waitFor: (done, timeoutMs) => state.waiters.waitFor(done, timeoutMs),
      sleep: (ms) => sleep(clock, ms),
      logger: this.opts.logger,
      now: () => clock.now(),
    };
  }
}
