// Tests of the notify FIFO reader on a real FIFO in a temporary directory.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, openSync, writeSync, closeSync, lstatSync, writeFileSync, constants } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NotifyFifoReader, ensureFifo } from "../../../src/agent/fifo.js";
import { createLogger } from "../../../src/shared/logger.js";

const logger = createLogger("test", "error");
logger.silent = true;

async function waitFor(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Writes like keepalived does: O_RDWR|O_NONBLOCK, so no reader is needed to open. */
function writeLikeKeepalived(path: string, text: string): void {
  const fd = openSync(path, constants.O_RDWR | constants.O_NONBLOCK);
  writeSync(fd, text);
  closeSync(fd);
}

void describe("NotifyFifoReader", () => {
  void test("calls onRecreated once the FIFO was found removed and made again (keepalived must reopen it)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fifo-test-"));
    const path = join(dir, "notify.fifo");
    let recreated = 0;
    const reader = new NotifyFifoReader({ path, logger, onLine: () => undefined, checkIntervalMs: 60_000, onRecreated: () => recreated++ });
    try {
      await reader.start();
      await reader.check();
      assert.equal(recreated, 0, "nothing lost: no call");
      rmSync(path);
      await reader.check();
      assert.equal(recreated, 1);
      assert.ok(lstatSync(path).isFIFO());
      await reader.check();
      assert.equal(recreated, 1, "the new FIFO is the one read: no second call");
      // keepalived making it again itself (as on a reload of a FIFO it created): reopened, no SIGHUP (it would loop).
      rmSync(path);
      await ensureFifo(path);
      await reader.check();
      assert.equal(recreated, 1, "a FIFO made by keepalived needs no SIGHUP");
    } finally {
      reader.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  void test("creates the FIFO, splits lines across chunks, and follows a replaced FIFO", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fifo-test-"));
    const path = join(dir, "notify.fifo");
    const lines: string[] = [];
    const reader = new NotifyFifoReader({ path, logger, onLine: (l) => lines.push(l), checkIntervalMs: 50 });
    try {
      await reader.start();
      assert.ok(lstatSync(path).isFIFO());
      assert.equal(lstatSync(path).mode & 0o777, 0o600);

      const fd = openSync(path, constants.O_RDWR | constants.O_NONBLOCK);
      writeSync(fd, 'INSTANCE "a" BACKUP 100\nINSTANCE "a" MAS');
      await new Promise((r) => setTimeout(r, 30));
      writeSync(fd, 'TER 100\n\nINSTANCE "b" BACKUP 90\n');
      closeSync(fd);
      await waitFor(() => lines.length === 3);
      assert.deepEqual(lines, ['INSTANCE "a" BACKUP 100', 'INSTANCE "a" MASTER 100', 'INSTANCE "b" BACKUP 90']);

      // What keepalived does with a FIFO it created itself: unlink and mkfifo again on reload.
      rmSync(path);
      await ensureFifo(path);
      // keepalived keeps its end open, so what it wrote before the reader reopened is not lost.
      const inodeBefore = lstatSync(path).ino;
      const kfd = openSync(path, constants.O_RDWR | constants.O_NONBLOCK);
      writeSync(kfd, 'INSTANCE "a" FAULT 100\n');
      try {
        await waitFor(() => lines.length === 4);
      } finally {
        closeSync(kfd);
      }
      assert.equal(lines[3], 'INSTANCE "a" FAULT 100');
      assert.equal(lstatSync(path).ino, inodeBefore);

      // Removed altogether: recreated by the reader.
      rmSync(path);
      await waitFor(() => {
        try {
          return lstatSync(path).isFIFO();
        } catch {
          return false;
        }
      });
      await reader.check();
      writeLikeKeepalived(path, 'INSTANCE "a" BACKUP 100\n');
      await waitFor(() => lines.length === 5);
    } finally {
      reader.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  void test("ensureFifo replaces a regular file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fifo-test-"));
    try {
      const path = join(dir, "notify.fifo");
      writeFileSync(path, "not a fifo");
      await ensureFifo(path);
      assert.ok(lstatSync(path).isFIFO());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
