// The build's version and commit. The version has one source, package.json
// (read once, from the package root next to dist/ or src/); the commit comes
// from KEEPALIVED_VIP_REVISION, which the image sets at build time. I/O: reads
// package.json and the environment.
import { readFileSync } from "node:fs";
import { Gauge, type Registry } from "prom-client";

/** Version and commit of this build. */
export interface BuildInfo {
  version: string;
  revision: string;
  nodeVersion: string;
}

let cached: BuildInfo | undefined;

/** This build's version (package.json), commit (or "unknown") and Node.js version. */
export function buildInfo(): BuildInfo {
  if (cached) return cached;
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version?: unknown };
  const version = typeof pkg.version === "string" ? pkg.version : "unknown";
  const revision = (process.env.KEEPALIVED_VIP_REVISION ?? "").trim() || "unknown";
  cached = { version, revision, nodeVersion: process.version };
  return cached;
}

/** The `--version` line: `keepalived-vip 0.1.0 (commit abc123, node v24.x)`. */
export function versionLine(program: string, info: BuildInfo = buildInfo()): string {
  return `${program} ${info.version} (commit ${info.revision}, node ${info.nodeVersion})\n`;
}

/** Registers `keepalived_vip_build_info{component,version,revision,nodeversion} 1`. */
export function registerBuildInfo(registry: Registry, component: string, info: BuildInfo = buildInfo()): void {
  const g = new Gauge({
    name: "keepalived_vip_build_info",
    help: "A constant 1, labelled with the component, version, commit and Node.js version of this build.",
    labelNames: ["component", "version", "revision", "nodeversion"],
    registers: [registry],
  });
  g.set({ component, version: info.version, revision: info.revision, nodeversion: info.nodeVersion }, 1);
}
