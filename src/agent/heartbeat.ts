// Renews the agent's heartbeat on a fixed period, logging a failure streak
// once. The renewal itself is injected; time comes from an injected Clock.
import type { Clock, Timer } from "../shared/clock.js";
import type { Logger } from "../shared/logger.js";
import { describeError } from "../kube/client.js";

export interface HeartbeatOptions {
  /** One renewal (e.g. apply the Lease). */
  renew(): Promise<void>;
  intervalMs: number;
  clock: Clock;
  logger: Logger;
  onFailure?(err: unknown): void;
  /** Called on the first success after failures. */
  onRecovered?(): void;
}

/** A periodic renewal loop; one renewal at a time. */
export class Heartbeat {
  private timer?: Timer;
  private stopped = false;
  private failing = false;
  /** Epoch ms of the last successful renewal. */
  lastSuccess?: number;

  constructor(private readonly opts: HeartbeatOptions) {}

  /** Renews now, then every interval. */
  start(): void {
    this.stopped = false;
    void this.beat();
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
  }

  private async beat(): Promise<void> {
    if (this.stopped) return;
    const started = this.opts.clock.now();
    try {
      await this.opts.renew();
      this.lastSuccess = this.opts.clock.now();
      if (this.failing) {
        this.opts.logger.info("Renewed heartbeat again");
        this.failing = false;
        this.opts.onRecovered?.();
      }
    } catch (err) {
      this.opts.onFailure?.(err);
      if (!this.failing) this.opts.logger.warn("Failed to renew heartbeat", { error: describeError(err) });
      this.failing = true;
    }
    if (this.stopped) return;
    const wait = Math.max(0, this.opts.intervalMs - (this.opts.clock.now() - started));
    this.timer = this.opts.clock.setTimer(() => void this.beat(), wait);
  }
}
