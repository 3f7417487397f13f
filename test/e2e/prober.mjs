#!/usr/bin/env node
// Probes one URL from inside the client namespace: a fresh HTTP request every
// --interval-ms (each with its own connection and --timeout-ms), and prints
// one JSON line per finished request: {"s":start ms,"e":end ms,"r":body or
// "!error"}. Plain JavaScript so that it starts fast. Bounded: stops by
// itself after --max-seconds (default 900) and never has more than
// --max-in-flight (default 64) requests open. Does I/O.
//
//   node test/e2e/prober.mjs --url http://192.0.2.50:80/ --interval-ms 10 --timeout-ms 150
import http from "node:http";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    url: { type: "string" },
    "interval-ms": { type: "string", default: "10" },
    "timeout-ms": { type: "string", default: "150" },
    "max-seconds": { type: "string", default: "900" },
    "max-in-flight": { type: "string", default: "64" },
  },
});
if (!values.url) {
  console.error("usage: prober.mjs --url URL [--interval-ms N] [--timeout-ms N] [--max-seconds N] [--max-in-flight N]");
  process.exit(2);
}
const url = values.url;
const intervalMs = Number(values["interval-ms"]);
const timeoutMs = Number(values["timeout-ms"]);
const maxInFlight = Number(values["max-in-flight"]);
// Times are on the host's monotonic clock (test/support/clock.ts reads the same one): a stepped wall clock cannot fake a silence.
const now = () => Number(process.hrtime.bigint() / 1000n) / 1000;
const stopAt = now() + Number(values["max-seconds"]) * 1000;
let inFlight = 0;

function emit(s, r) {
  process.stdout.write(`${JSON.stringify({ s, e: now(), r })}\n`);
}

function probe() {
  const s = now();
  let done = false;
  const finish = (r) => {
    if (done) return;
    done = true;
    inFlight--;
    emit(s, r);
  };
  inFlight++;
  const req = http.get(url, { agent: false, timeout: timeoutMs, headers: { connection: "close" } }, (res) => {
    let body = "";
    res.setEncoding("utf8");
    res.on("data", (chunk) => (body += chunk));
    res.on("end", () => finish(res.statusCode === 200 ? body.trim() : `!http-${res.statusCode}`));
    res.on("error", (err) => finish(`!${err.code ?? err.message}`));
  });
  req.on("timeout", () => req.destroy(Object.assign(new Error("timeout"), { code: "TIMEOUT" })));
  req.on("error", (err) => finish(`!${err.code ?? err.message}`));
  // A hard bound even if a response trickles in forever.
  setTimeout(() => {
    if (!done) req.destroy(Object.assign(new Error("timeout"), { code: "TIMEOUT" }));
  }, timeoutMs * 2).unref();
}

const timer = setInterval(() => {
  if (now() > stopAt) {
    clearInterval(timer);
    return;
  }
  if (inFlight < maxInFlight) probe();
}, intervalMs);
process.stdout.on("error", () => process.exit(0));
process.on("SIGTERM", () => process.exit(0));
