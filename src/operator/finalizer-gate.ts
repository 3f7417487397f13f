// The gate of the finalizer policy (ADR 0024). The MutatingAdmissionPolicy
// that adds the operator's finalizer at creation (ADR 0022) makes the API
// server refuse every VirtualIP create while it has not loaded the CRD's schema
// (a few seconds after the CRD is first created). So the policy acts only once
// the plan's namespace carries the annotation keepalived-vip.io/finalizer-policy:
// open, and on the operator's dry-run probe. The leader probes and, once the
// probe comes back with the finalizer, opens the gate. Until then, and where
// the policy is not installed, the operator adds the finalizer itself. Time
// through the clock; I/O through the port.
import { backoffDelay } from "../shared/backoff.js";
import type { Clock, Timer } from "../shared/clock.js";
import type { Logger } from "../shared/logger.js";

/** What a dry-run create of the probe VirtualIP showed. */
export type ProbeResult =
  /** The policy added the finalizer: it works on this API server. */
  | "mutated"
  /** Created without the finalizer: the policy is not loaded yet (or not bound). */
  | "not-mutated"
  /** Refused: the API server has not loaded the CRD's schema yet. */
  | "schema-not-loaded";

/** The gate's I/O. */
export interface FinalizerGatePort {
  /** Whether the finalizer policy exists in the cluster (false where the API or the object is absent). */
  policyInstalled(): Promise<boolean>;
  /** Whether the plan's namespace says the gate is open (the operator's cache). */
  isOpen(): boolean;
  /** A dry-run create of the probe VirtualIP. */
  probe(): Promise<ProbeResult>;
  /** Writes the annotation that opens the gate. */
  open(): Promise<void>;
}

/** How often the gate looks again. */
export interface FinalizerGateTiming {
  /** Before the second probe while the policy is installed and the gate shut; doubled after each probe that found it shut. */
  probeMs: number;
  /** The longest wait between probes. */
  maxProbeMs: number;
  /** Between checks once the gate is open, or while no policy is installed (one GET each). */
  recheckMs: number;
}

export const DEFAULT_FINALIZER_GATE_TIMING: FinalizerGateTiming = { probeMs: 1_000, maxProbeMs: 30_000, recheckMs: 300_000 };

/** Opens the finalizer policy once it works; runs while this replica leads. */
export class FinalizerGate {
  private timer: Timer | undefined;
  /** Bumped by every start and stop: a look still running from an earlier term neither writes nor schedules. */
  private term = 0;
  private running = false;
  private probes = 0;

  constructor(
    private readonly port: FinalizerGatePort,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly timing: FinalizerGateTiming = DEFAULT_FINALIZER_GATE_TIMING,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.term++;
    this.probes = 0;
    this.schedule(this.term, 0);
  }

  stop(): void {
    this.running = false;
    this.term++;
    this.timer?.cancel();
    this.timer = undefined;
  }

  /** One look in `term`: returns the wait before the next. */
  private async step(term: number): Promise<number> {
    if (this.port.isOpen()) return this.timing.recheckMs;
    if (!(await this.port.policyInstalled())) return this.timing.recheckMs;
    this.probes++;
    const result = await this.port.probe();
    if (result !== "mutated") {
      this.logger.debug("The finalizer policy does not act yet; the operator adds finalizers itself", { probe: result, probes: this.probes });
      return backoffDelay(this.probes, { initialMs: this.timing.probeMs, maxMs: this.timing.maxProbeMs });
    }
    // Leadership lost during the probe: the next leader opens the gate.
    if (term !== this.term) return this.timing.recheckMs;
    await this.port.open();
    this.logger.info("Opened the finalizer policy: the API server now adds the finalizer to new VirtualIPs", { probes: this.probes });
    this.probes = 0;
    return this.timing.recheckMs;
  }

  private schedule(term: number, ms: number): void {
    if (term !== this.term) return;
    this.timer = this.clock.setTimer(() => void this.run(term), ms);
  }

  private async run(term: number): Promise<void> {
    let next = this.timing.probeMs;
    try {
      next = await this.step(term);
    } catch (err) {
      this.logger.warn("Could not check the finalizer policy; trying again", { error: err instanceof Error ? err.message : String(err) });
    }
    this.schedule(term, next);
  }
}
