// Last-resort cleanup of harness resources when the test process ends without
// calling stop()/destroy(): on exit, SIGINT, SIGTERM, SIGHUP and uncaught errors. Does I/O.

type Cleanup = () => void;

const cleanups = new Map<number, Cleanup>();
let nextId = 1;
let installed = false;
let running = false;

/** Runs every registered cleanup once, newest first. Synchronous: it runs inside 'exit'. */
function runAll(): void {
  if (running) return;
  running = true;
  const ids = [...cleanups.keys()].reverse();
  for (const id of ids) {
    const fn = cleanups.get(id);
    cleanups.delete(id);
    try {
      fn?.();
    } catch (err) {
      console.error(`Cleanup failed: ${(err as Error).message}`);
    }
  }
  running = false;
}

function install(): void {
  if (installed) return;
  installed = true;
  // 'exit' also fires after an uncaught exception or unhandled rejection.
  process.on("exit", runAll);
  const signals: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];
  const codes: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };
  for (const sig of signals) {
    process.once(sig, () => {
      runAll();
      process.exit(128 + (codes[sig] ?? 0));
    });
  }
}

/**
 * Registers a synchronous cleanup to run if the process ends before it is
 * released. Returns the release function (call it after a normal stop).
 */
export function registerCleanup(fn: Cleanup): () => void {
  install();
  const id = nextId++;
  cleanups.set(id, fn);
  return () => {
    cleanups.delete(id);
  };
}
