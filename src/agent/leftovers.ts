// What was on the node's interfaces before keepalived started, so that the
// cleanup after a crash removes only what keepalived itself added (ADR 0016).
// The snapshot is taken just before every keepalived start and kept in the
// runtime directory, so an agent restarted after its container was killed
// (keepalived's addresses left behind) still knows what was there before.
// I/O (files, iproute2).
import { promises as fsp } from "node:fs";
import type { NodeInstance } from "../api/index.js";
import type { Logger } from "../shared/logger.js";
import { snapshotAddresses, type AddressOnLink } from "./ip.js";
import { readInterfaces, removeLeftoverVips, type RemovalReason } from "./ip-io.js";
import { writeAtomic } from "./runtime.js";

/** Parses the snapshot file; undefined when missing or unreadable. */
export function parseSnapshot(text: string | undefined): Set<string> | undefined {
  if (text === undefined) return undefined;
  try {
    const raw = JSON.parse(text) as { addresses?: unknown };
    if (!Array.isArray(raw.addresses) || !raw.addresses.every((a) => typeof a === "string")) return undefined;
    return new Set(raw.addresses);
  } catch {
    return undefined;
  }
}

export interface LeftoverTrackerOptions {
  /** The snapshot file (runtime directory). */
  file: string;
  logger: Logger;
  hostIP?: string;
  ipPath?: string;
}

/** Keeps the pre-keepalived snapshot and removes keepalived's leftovers against it. */
export class LeftoverTracker {
  private preexisting?: Set<string>;
  private loaded = false;

  constructor(private readonly opts: LeftoverTrackerOptions) {}

  /**
   * Just before keepalived starts: removes what an earlier keepalived left
   * (against the earlier snapshot; nothing when there is none), then takes
   * and keeps a new snapshot. Never throws: a failure is logged and the start goes on.
   */
  async beforeStart(instances: readonly NodeInstance[]): Promise<AddressOnLink[]> {
    let removed: AddressOnLink[] = [];
    try {
      if (!this.loaded) {
        this.loaded = true;
        this.preexisting = parseSnapshot(await fsp.readFile(this.opts.file, "utf8").catch(() => undefined));
      }
      if (this.preexisting !== undefined) removed = await this.cleanup(instances);
      const now = snapshotAddresses(await readInterfaces(this.opts.ipPath));
      this.preexisting = new Set(now);
      await writeAtomic(this.opts.file, `${JSON.stringify({ addresses: now })}\n`);
    } catch (err) {
      this.opts.logger.warn("Failed to snapshot interface addresses before starting keepalived", { error: err instanceof Error ? err.message : String(err) });
    }
    return removed;
  }

  /**
   * Removes keepalived's VIPs of `instances`: host routes not in the snapshot.
   * `reason` "handover": the agent ended the process that held them after a
   * planned handover, logged as such (info), not as a leftover (warning).
   */
  async cleanup(instances: readonly NodeInstance[], reason: RemovalReason = "leftover"): Promise<AddressOnLink[]> {
    return removeLeftoverVips({
      instances,
      reason,
      logger: this.opts.logger,
      ...(this.opts.hostIP !== undefined ? { hostIP: this.opts.hostIP } : {}),
      ...(this.preexisting !== undefined ? { preexisting: this.preexisting } : {}),
      ...(this.opts.ipPath !== undefined ? { ipPath: this.opts.ipPath } : {}),
    });
  }
}
