// Test support for the renderer: YAML fixtures into a ClusterView, and the
// real `keepalived --config-test` run inside a throwaway network namespace
// that has the interfaces a config names.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import yaml from "js-yaml";
import type { V1EndpointSlice } from "@kubernetes/client-node";
import { KIND, POOL_KIND, parsePool, parseVirtualIP } from "../../../src/api/index.js";
import type { ClusterView } from "../../../src/render/index.js";

export const REPO = join(import.meta.dirname, "..", "..", "..");
export const FIXTURES = join(REPO, "test", "fixtures", "render");
export const GOLDEN = join(REPO, "test", "golden", "render");
export const KEEPALIVED = "/usr/sbin/keepalived";

/** Result of {@link parseClusterObjects}: the view, and one message per object that could not be used. */
interface ParsedClusterObjects {
  view: ClusterView;
  errors: string[];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function hasName(obj: Record<string, unknown>): boolean {
  const meta = obj.metadata;
  return isObject(meta) && typeof meta.name === "string" && meta.name !== "";
}

/**
 * Sorts untrusted objects by kind into a ClusterView: VirtualIPs are parsed
 * with the API schema (defaults applied), Nodes, Services, EndpointSlices and
 * Secrets are taken as they are, `List` items are unpacked, empty documents
 * and other kinds are ignored. Node interfaces come only from Node
 * annotations, so `nodeInterfaces` is empty.
 */
export function parseClusterObjects(objects: unknown[]): ParsedClusterObjects {
  const view: ClusterView = { virtualIPs: [], nodes: [], services: [], endpointSlices: [], secrets: [], nodeInterfaces: {}, pools: [] };
  const errors: string[] = [];
  const visit = (obj: unknown, where: string): void => {
    if (obj === null || obj === undefined) return;
    if (!isObject(obj)) {
      errors.push(`${where}: not an object`);
      return;
    }
    const kind = obj.kind;
    if (kind === "List" && Array.isArray(obj.items)) {
      obj.items.forEach((item, i) => visit(item, `${where}.items[${i}]`));
      return;
    }
    if (kind === POOL_KIND) {
      const res = parsePool(obj);
      if (res.ok) view.pools.push(res.value);
      else errors.push(res.error);
      return;
    }
    if (kind === KIND) {
      const res = parseVirtualIP(obj);
      if (res.ok) view.virtualIPs.push(res.value);
      else errors.push(res.error);
      return;
    }
    if (kind !== "Node" && kind !== "Service" && kind !== "EndpointSlice" && kind !== "Secret") return;
    if (!hasName(obj)) {
      errors.push(`${where}: ${kind} without metadata.name`);
      return;
    }
    if (kind === "Node") view.nodes.push(obj);
    else if (kind === "Service") view.services.push(obj);
    else if (kind === "EndpointSlice") view.endpointSlices.push(obj as unknown as V1EndpointSlice);
    else view.secrets.push(obj);
  };
  objects.forEach((obj, i) => visit(obj, `object ${i}`));
  return { view, errors };
}

/** Parses a multi-document YAML text into a view; throws on any object that does not parse. */
export function viewFromYaml(text: string): ClusterView {
  const { view, errors } = parseClusterObjects(yaml.loadAll(text));
  if (errors.length > 0) throw new Error(`Fixture has invalid objects:\n${errors.join("\n")}`);
  return view;
}

/** Loads test/fixtures/render/<name>.yaml. */
export function loadFixture(name: string): ClusterView {
  return viewFromYaml(readFileSync(join(FIXTURES, `${name}.yaml`), "utf8"));
}

function run(cmd: string, args: string[]): { status: number | null; stdout: string; stderr: string; error?: Error } {
  const res = spawnSync(cmd, args, { encoding: "utf8", timeout: 30_000 });
  return { status: res.status, stdout: res.stdout ?? "", stderr: res.stderr ?? "", ...(res.error ? { error: res.error } : {}) };
}

function must(cmd: string, args: string[]): void {
  const res = run(cmd, args);
  if (res.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${String(res.status)}): ${res.stderr}${res.error?.message ?? ""}`);
}

/** Interface names a keepalived.conf refers to (instance interfaces and address devices). */
export function interfacesOf(config: string): string[] {
  const names = new Set<string>();
  for (const m of config.matchAll(/^\s*interface\s+(\S+)\s*$/gm)) if (m[1]) names.add(m[1]);
  for (const m of config.matchAll(/\sdev\s+(\S+)/g)) if (m[1]) names.add(m[1]);
  return [...names].sort();
}

/** Result of one config test. */
export interface ConfigTestResult {
  status: number | null;
  /** What keepalived wrote to its config-test log (empty for a clean config). */
  log: string;
  stderr: string;
}

/**
 * Runs the real keepalived --config-test in a network namespace of its own,
 * where each interface a config names exists (as a bridge: this host has no
 * dummy links). Call close() when done; it deletes the namespace.
 */
export class KeepalivedChecker {
  private readonly ns = `kvr-test-${process.pid}`;
  private readonly dir = mkdtempSync(join(tmpdir(), "kvr-test-"));
  private readonly links = new Set<string>(["lo"]);
  private created = false;
  private seq = 0;

  private ensureNamespace(): void {
    if (this.created) return;
    must("ip", ["netns", "add", this.ns]);
    this.created = true;
    must("ip", ["-n", this.ns, "link", "set", "lo", "up"]);
  }

  private ensureLink(name: string): void {
    if (this.links.has(name)) return;
    must("ip", ["-n", this.ns, "link", "add", name, "type", "bridge"]);
    must("ip", ["-n", this.ns, "link", "set", name, "up"]);
    this.links.add(name);
  }

  /** Config-tests `config` (text). */
  check(config: string): ConfigTestResult {
    this.ensureNamespace();
    for (const name of interfacesOf(config)) this.ensureLink(name);
    this.seq++;
    const file = join(this.dir, `keepalived-${this.seq}.conf`);
    const logFile = join(this.dir, `keepalived-${this.seq}.log`);
    writeFileSync(file, config);
    const res = run("ip", ["netns", "exec", this.ns, KEEPALIVED, `--config-test=${logFile}`, "-f", file]);
    if (res.error) throw res.error;
    let log = "";
    try {
      log = readFileSync(logFile, "utf8");
    } catch {
      log = "";
    }
    return { status: res.status, log, stderr: res.stderr };
  }

  /** Deletes the namespace and the temporary files. */
  close(): void {
    if (this.created) run("ip", ["netns", "del", this.ns]);
    this.created = false;
    rmSync(this.dir, { recursive: true, force: true });
  }
}
