// Reads keepalived's notify FIFO line by line without blocking the libuv
// thread pool, and keeps reading across keepalived reloads and restarts. I/O.
import { execFile } from "node:child_process";
import { constants, fstat, open as openFd, closeSync, promises as fsp } from "node:fs";
import net from "node:net";
import { promisify } from "node:util";
import { realClock, type Clock, type Timer } from "../shared/clock.js";
import type { Logger } from "../shared/logger.js";

const run = promisify(execFile);
const openAsync = promisify(openFd);
const fstatAsync = promisify(fstat);

/**
 * Makes sure `path` is a FIFO (mode 0600), replacing anything else found there.
 * keepalived 2.2.7 unlinks and recreates a FIFO it created itself on every
 * reload, but keeps one that already existed: creating it first keeps one inode
 * for the agent's whole life.
 */
export async function ensureFifo(path: string): Promise<boolean> {
  const st = await fsp.lstat(path).catch(() => undefined);
  if (st?.isFIFO()) return false;
  if (st) await fsp.rm(path, { force: true, recursive: false });
  await run("mkfifo", ["-m", "0600", path], { timeout: 10_000 });
  return true;
}

export interface NotifyFifoOptions {
  path: string;
  /** Called for every complete line, with the time it was read (epoch ms). */
  onLine(line: string, at: number): void;
  logger: Logger;
  /** How often to check that the path still names the FIFO being read. Default 1000 ms. */
  checkIntervalMs?: number;
  /** Clock of the read timestamps and the path checks. Default the real clock. */
  clock?: Clock;
  /**
   * Called after the FIFO was found missing (or replaced by something else)
   * and the reader made it again: a running keepalived still writes to the
   * old inode until it reloads, so the agent sends it SIGHUP. Not called when
   * keepalived made the new FIFO itself (it writes to that one already, and
   * would make it again on the reload: a SIGHUP would loop).
   */
  onRecreated?(): void;
}

const MAX_LINE = 4096;

/**
 * A reader of the notify FIFO. The FIFO is opened O_RDWR|O_NONBLOCK: open never
 * blocks (no writer needed), reads go through libuv's event loop as a pipe, and
 * the reader never sees EOF when keepalived closes its end. If the path is
 * replaced (another inode) or removed, the reader recreates and reopens it.
 */
export class NotifyFifoReader {
  private socket?: net.Socket;
  private inode?: { dev: number; ino: number };
  private partial = "";
  private timer?: Timer;
  private closed = false;
  private reopening?: Promise<void>;

  constructor(private readonly opts: NotifyFifoOptions) {}

  /** Creates (if needed) and opens the FIFO, then watches the path. */
  async start(): Promise<void> {
    await this.open();
    this.scheduleCheck();
  }

  /** The next path check, one interval from now (real clock timers do not keep the process alive). */
  private scheduleCheck(): void {
    if (this.closed) return;
    this.timer = this.clock.setTimer(() => {
      this.check()
        .catch((err: unknown) =>
          this.opts.logger.warn("Failed to reopen notify FIFO", { path: this.opts.path, error: err instanceof Error ? err.message : String(err) }),
        )
        .finally(() => this.scheduleCheck());
    }, this.opts.checkIntervalMs ?? 1000);
  }

  private get clock(): Clock {
    return this.opts.clock ?? realClock;
  }

  /** Reopens at once when the path no longer names the FIFO being read (call after starting keepalived). */
  async check(): Promise<void> {
    if (this.closed || this.reopening) return this.reopening;
    const st = await fsp.lstat(this.opts.path).catch(() => undefined);
    if (st?.isFIFO() && this.inode && st.dev === this.inode.dev && st.ino === this.inode.ino && this.socket && !this.socket.destroyed) return;
    const replaced = st?.isFIFO() && this.inode !== undefined && (st.dev !== this.inode.dev || st.ino !== this.inode.ino);
    this.opts.logger.info("Reopening notify FIFO", {
      path: this.opts.path,
      reason: !st ? "missing" : replaced ? "replaced" : st.isFIFO() ? "closed" : "not a FIFO",
    });
    this.reopening = this.open()
      .then((created) => {
        if (created && !this.closed) this.opts.onRecreated?.();
      })
      .finally(() => (this.reopening = undefined));
    return this.reopening;
  }

  /** Stops reading and closes the descriptor (the FIFO stays for keepalived). */
  close(): void {
    this.closed = true;
    this.timer?.cancel();
    this.socket?.destroy();
    this.socket = undefined;
  }

  /** Opens the FIFO (making it first when needed); resolves to whether it was made. */
  private async open(): Promise<boolean> {
    this.socket?.destroy();
    this.socket = undefined;
    const created = await ensureFifo(this.opts.path);
    // A plain descriptor, not a FileHandle: net.Socket owns it from here on.
    const fd = await openAsync(this.opts.path, constants.O_RDWR | constants.O_NONBLOCK);
    const st = await fstatAsync(fd);
    if (this.closed) {
      closeSync(fd);
      return created;
    }
    this.inode = { dev: st.dev, ino: st.ino };
    const socket = new net.Socket({ fd, readable: true, writable: false });
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => this.feed(chunk));
    socket.on("error", (err) => this.opts.logger.warn("Failed to read notify FIFO", { path: this.opts.path, error: err.message }));
    socket.on("close", () => {
      if (this.socket === socket && !this.closed) void this.check();
    });
    this.socket = socket;
    this.partial = "";
    return created;
  }

  private feed(chunk: string): void {
    const at = this.clock.now();
    const parts = (this.partial + chunk).split("\n");
    this.partial = parts.pop() ?? "";
    if (this.partial.length > MAX_LINE) this.partial = "";
    for (const line of parts) if (line.trim() !== "") this.opts.onLine(line, at);
  }
}
