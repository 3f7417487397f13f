// A byte relay between TCP and Unix sockets, run as its own process:
//   node --import tsx relay.ts <connect-spec> <listen-spec>...
// where a spec is tcp:<host>:<port> or unix:<path>. Unix sockets are not tied
// to a network namespace, so two relays (one per namespace) carry a TCP port
// from the host into the node network. Prints "ready" once every listener is up. Does I/O.
import { connect, createServer, type Socket } from "node:net";
import { rmSync } from "node:fs";

type Spec = { kind: "tcp"; host: string; port: number } | { kind: "unix"; path: string };

function parseSpec(s: string): Spec {
  if (s.startsWith("unix:")) return { kind: "unix", path: s.slice(5) };
  const m = /^tcp:(.+):(\d+)$/.exec(s);
  if (!m) throw new Error(`bad socket spec ${s}: want tcp:<host>:<port> or unix:<path>`);
  return { kind: "tcp", host: m[1]!.replace(/^\[(.*)\]$/, "$1"), port: Number(m[2]) };
}

function dial(spec: Spec): Socket {
  return spec.kind === "unix" ? connect(spec.path) : connect(spec.port, spec.host);
}

function pipeBoth(a: Socket, b: Socket): void {
  a.pipe(b);
  b.pipe(a);
  a.on("error", () => b.destroy());
  b.on("error", () => a.destroy());
  a.on("close", () => b.destroy());
  b.on("close", () => a.destroy());
}

function listen(spec: Spec, target: Spec): Promise<void> {
  const server = createServer((client) => pipeBoth(client, dial(target)));
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    if (spec.kind === "unix") {
      rmSync(spec.path, { force: true });
      server.listen(spec.path, resolve);
    } else {
      server.listen(spec.port, spec.host, resolve);
    }
  });
}

async function main(): Promise<void> {
  const [target, ...listens] = process.argv.slice(2);
  if (target === undefined || listens.length === 0) throw new Error("usage: relay.ts <connect-spec> <listen-spec>...");
  const to = parseSpec(target);
  // A listener on a just-added address may need a moment: retry for a few seconds.
  for (const l of listens.map(parseSpec)) {
    for (let attempt = 1; ; attempt++) {
      try {
        await listen(l, to);
        break;
      } catch (err) {
        if (attempt >= 50) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }
  process.stdout.write("ready\n");
}

main().catch((err: unknown) => {
  console.error(`Relay failed: ${(err as Error).message}`);
  process.exit(1);
});
