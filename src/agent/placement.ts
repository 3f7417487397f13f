// The track files keepalived follows without a reload: the node-wide handover
// file (1: every instance at the lowest priority) and one standby file per
// instance (1: the instance in FAULT, for Local Services without a ready
// endpoint here). planTrackValues is pure; TrackFiles writes them (I/O).
// See docs/adr/0018.
import { promises as fsp } from "node:fs";
import { join } from "node:path";
import { HANDOVER_TRACK_FILE, TRACK_DIR_NAME, standbyTrackFile, type PublishedNode } from "../api/index.js";

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
