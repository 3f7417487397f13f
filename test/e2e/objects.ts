// VirtualIP manifests for the e2e tier and `kubectl get virtualips` as rows.
// Manifest builders are pure; readVirtualIPTable runs kubectl.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import yaml from "js-yaml";
import { REPO_ROOT } from "../support/index.js";
import type { Env } from "./env.js";

/** What a test VirtualIP needs; everything else keeps the API defaults. */
export interface VirtualIPSpecOptions {
  name: string;
  namespace?: string;
  address: string;
  virtualRouterId: number;
  /** Default "nginx" (a LoadBalancer Service of config/samples/cluster/services.yaml). */
  service?: string;
  advertisementInterval?: string;
  preempt?: boolean;
  preemptDelay?: string;
  priorities?: Record<string, number>;
}

/** A VirtualIP with forwarding kube-proxy, as JSON text for `kubectl apply -f -`. Pure. */
export function virtualIPManifest(o: VirtualIPSpecOptions): string {
  const vrrp: Record<string, unknown> = { version: 3 };
  if (o.advertisementInterval !== undefined) vrrp.advertisementInterval = o.advertisementInterval;
  if (o.preempt !== undefined) vrrp.preempt = o.preempt;
  if (o.preemptDelay !== undefined) vrrp.preemptDelay = o.preemptDelay;
  if (o.priorities !== undefined) vrrp.priorities = o.priorities;
  return JSON.stringify({
    apiVersion: "keepalived-vip.io/v1alpha1",
    kind: "VirtualIP",
    metadata: { name: o.name, namespace: o.namespace ?? "default" },
    spec: {
      serviceRef: { name: o.service ?? "nginx" },
      address: o.address,
      virtualRouterId: o.virtualRouterId,
      forwarding: "kube-proxy",
      vrrp,
    },
  });
}

/** A sample of config/samples/ as an object, optionally with a different advert interval (for speed). Pure apart from reading the file. */
export function sampleVirtualIP(file: string, advertisementInterval?: string): { text: string; name: string; address: string } {
  const doc = yaml.load(readFileSync(join(REPO_ROOT, "config/samples", file), "utf8")) as {
    metadata: { name: string };
    spec: { address: string; vrrp?: Record<string, unknown> };
  };
  if (advertisementInterval !== undefined) doc.spec.vrrp = { ...(doc.spec.vrrp ?? {}), advertisementInterval };
  return { text: JSON.stringify(doc), name: doc.metadata.name, address: doc.spec.address };
}

/** One row of `kubectl get virtualips [-o wide]`, keyed by column header (NAME, ADDRESS, MASTER, ...). */
export type TableRow = Record<string, string>;

/** Parses kubectl's table output; cells are separated by two or more spaces, as kubectl pads them. Pure. */
export function parseTable(text: string): TableRow[] {
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  const header = lines.shift();
  if (header === undefined) return [];
  // Column starts from the header; cells are cut at those offsets.
  const starts: number[] = [];
  const names: string[] = [];
  for (const m of header.matchAll(/\S+/g)) {
    starts.push(m.index);
    names.push(m[0]);
  }
  return lines.map((line) => {
    const row: TableRow = {};
    names.forEach((name, i) => {
      row[name] = line.slice(starts[i], starts[i + 1]).trim();
    });
    return row;
  });
}

/** `kubectl get virtualips -A [-o wide]` as rows, and the raw text. */
export async function readVirtualIPTable(env: Env, wide = false): Promise<{ rows: TableRow[]; text: string }> {
  const res = await env.kubectl(["get", "virtualips", "-A", ...(wide ? ["-o", "wide"] : [])]);
  return { rows: parseTable(res.stdout), text: res.stdout };
}
