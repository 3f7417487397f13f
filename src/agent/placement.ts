// The track files keepalived follows without a reload: the node-wide handover
// file (1: every instance at the lowest priority) and one standby file per
// instance (1: the instance in FAULT, for Local Services without a ready
// endpoint here). planTrackValues and effectivePriority are pure; TrackFiles
// writes them (I/O). See docs/adr/0018.
import { promises as fsp } from "node:fs";
import { join } from "node:path";
import { HANDOVER_TRACK_FILE, HANDOVER_TRACK_WEIGHT, TRACK_DIR_NAME, standbyTrackFile, type PublishedNode } from "../api/index.js";

/** File name (in the track folder) -> "0" or "1". */
export type TrackValues = Map<string, "0" | "1">;

/**
 * The values the node's track files should hold: the handover file is 1
 * while the plan says the node hands over or the agent is stopping; each
 * instance's standby file is 1 while the plan marks it standby. An entry's
 * key is its vrrp_instance name, or that name, "#" and a hash (plan.ts):
 * the file is named after the vrrp_instance, as in keepalived.conf.
 */
export function planTrackValues(node: PublishedNode, stopping: boolean): TrackValues {
  const values: TrackValues = new Map([[HANDOVER_TRACK_FILE, node.handover !== undefined || stopping ? "1" : "0"]]);
  for (const e of node.instances) values.set(standbyTrackFile(e.instance.split("#")[0] ?? e.instance), e.standby ? "1" : "0");
  return values;
}

/** keepalived's bounds of an effective priority (255 is the address owner's, never given here). */
const PRIORITY_MIN = 1;
const PRIORITY_MAX = 254;

/**
 * The priority keepalived runs an instance with, given its configured one and
 * the handover file: configured plus the handover weight (-253) while the file
 * is 1, clamped to 1..254 as keepalived clamps it, so 1 for any configured
 * priority. A standby file (weight 0) puts the instance in FAULT and leaves the
 * priority as it is: the one the instance runs with once it leaves FAULT.
 */
export function effectivePriority(configured: number, handover: boolean): number {
  return Math.min(PRIORITY_MAX, Math.max(PRIORITY_MIN, configured + (handover ? HANDOVER_TRACK_WEIGHT : 0)));
}

/** vrrp_instance name -> {@link effectivePriority} of each instance. */
export function effectivePriorities(instances: ReadonlyArray<{ instance: string; priority: number }>, handover: boolean): Record<string, number> {
  return Object.fromEntries(instances.map((i) => [i.instance, effectivePriority(i.priority, handover)]));
}

/** Writes track files when their value changes (rename into place: keepalived reads on IN_MOVED_TO). */
export class TrackFiles {
  readonly dir: string;
  private readonly written = new Map<string, string>();

  constructor(runtimeDir: string) {
    this.dir = join(runtimeDir, TRACK_DIR_NAME);
  }

  /**
   * Writes the values that differ from what this process wrote last (all of
   * them the first time) and removes standby files of instances no longer
   * named. Answers the names it changed.
   */
  async write(values: TrackValues): Promise<string[]> {
    await fsp.mkdir(this.dir, { recursive: true, mode: 0o700 });
    const changed: string[] = [];
    for (const [name, value] of [...values].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      if (await this.writeOne(name, value)) changed.push(name);
    }
    for (const name of await fsp.readdir(this.dir)) {
      if (name.startsWith("standby-") && !values.has(name)) {
        await fsp.rm(join(this.dir, name), { force: true });
        this.written.delete(name);
      }
    }
    return changed;
  }

  /** Whether the handover file holds 1, as this process last wrote it (false before the first write). */
  get handover(): boolean {
    return this.written.get(HANDOVER_TRACK_FILE) === "1";
  }

  /** Sets the handover file alone (the agent is stopping: before the plan says so). Answers whether it changed. */
  async setHandover(on: boolean): Promise<boolean> {
    await fsp.mkdir(this.dir, { recursive: true, mode: 0o700 });
    return this.writeOne(HANDOVER_TRACK_FILE, on ? "1" : "0");
  }

  private async writeOne(name: string, value: string): Promise<boolean> {
    if (this.written.get(name) === value) return false;
    const tmp = join(this.dir, `.${name}.tmp-${process.pid}`);
    await fsp.writeFile(tmp, `${value}\n`, { mode: 0o600 });
    await fsp.rename(tmp, join(this.dir, name));
    this.written.set(name, value);
    return true;
  }
}
