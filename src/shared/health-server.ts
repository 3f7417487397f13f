// HTTP endpoint of a long-running component: /metrics from a prom-client
// Registry, /healthz and /readyz from pluggable checks. I/O (node:http).
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";
import type { Logger } from "./logger.js";

/** Outcome of one health check. */
export interface HealthCheckResult {
  ok: boolean;
  /** Why the check failed (shown in the response body; never a secret). */
  message?: string;
}

/** A named probe; a thrown error counts as a failure with the error's message. */
export type HealthCheck = () => HealthCheckResult | Promise<HealthCheckResult>;

export interface HealthServerOptions {
  /** "host:port", ":port" or "[v6]:port"; port 0 picks a free port. */
  bindAddress: string;
  /** Served on /metrics when given. */
  registry?: Registry;
  /** Checks behind /healthz (liveness); all must pass. */
  healthz?: Record<string, HealthCheck>;
  /** Checks behind /readyz (readiness); all must pass. */
  readyz?: Record<string, HealthCheck>;
  logger?: Logger;
}

export interface HealthServer {
  /** Address actually bound (useful with port 0). */
  host: string;
  port: number;
  /** Stops accepting connections and closes idle ones. */
  close(): Promise<void>;
}

/** Parses a bind address ("0.0.0.0:9101", ":9101", "[::]:9101") into host and port. */
export function parseBindAddress(value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(value.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new Error(`invalid bind address "${value}": want host:port, :port or [ipv6]:port`);
  const host = m[1] ?? m[2] ?? "";
  return { host: host === "" ? "0.0.0.0" : host, port };
}

async function runCheck(check: HealthCheck): Promise<HealthCheckResult> {
  try {
    return await check();
  } catch (err) {
    return { ok: false, message: err instanceof Error ? err.message : String(err) };
  }
}

/** Runs every check and renders a Kubernetes-style verbose body ("[+]name ok" / "[-]name failed: why"). */
export async function evaluateChecks(checks: Record<string, HealthCheck>): Promise<{ ok: boolean; body: string }> {
  const names = Object.keys(checks).sort();
  const results = await Promise.all(names.map((n) => runCheck(checks[n] as HealthCheck)));
  const lines = names.map((n, i) => {
    const r = results[i] as HealthCheckResult;
    return r.ok ? `[+]${n} ok` : `[-]${n} failed: ${r.message ?? "not ok"}`;
  });
  const ok = results.every((r) => r.ok);
  lines.push(ok ? "ok" : "check failed");
  return { ok, body: `${lines.join("\n")}\n` };
}

async function handle(opts: HealthServerOptions, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const path = (req.url ?? "/").split("?")[0];
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.writeHead(405, { Allow: "GET, HEAD" }).end();
    return;
  }
  if (path === "/metrics" && opts.registry) {
    const text = await opts.registry.metrics();
    res.writeHead(200, { "Content-Type": opts.registry.contentType }).end(text);
    return;
  }
  if (path === "/healthz" || path === "/readyz") {
    const checks = (path === "/healthz" ? opts.healthz : opts.readyz) ?? {};
    const { ok, body } = await evaluateChecks(checks);
    res.writeHead(ok ? 200 : 503, { "Content-Type": "text/plain; charset=utf-8" }).end(body);
    return;
  }
  res.writeHead(404, { "Content-Type": "text/plain; charset=utf-8" }).end("not found\n");
}

/** Starts the server; resolves once it listens. */
export async function startHealthServer(opts: HealthServerOptions): Promise<HealthServer> {
  const { host, port } = parseBindAddress(opts.bindAddress);
  const server = http.createServer((req, res) => {
    handle(opts, req, res).catch((err: unknown) => {
      opts.logger?.warn("Failed to serve health request", { path: req.url, error: err instanceof Error ? err.message : String(err) });
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  opts.logger?.info("Serving metrics and health probes", { address: `${addr.address}:${addr.port}` });
  return {
    host: addr.address,
    port: addr.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
