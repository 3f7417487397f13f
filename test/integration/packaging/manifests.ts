// Helpers of the packaging tests: run helm, render the chart, read config/
// manifests, and normalise RBAC objects for comparison. Does I/O (helm, files).
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import yaml from "js-yaml";
import { registerCleanup } from "../../support/cleanup.js";
import { REPO_ROOT, resolveK8sBins } from "../../support/k8sbins.js";
import { runCommand, type CommandResult } from "../../support/process.js";

export const CHART_DIR = join(REPO_ROOT, "charts/keepalived-vip-operator");
export const NAMESPACE = "keepalived-vip-system";
/** Namespace of the published plan and the heartbeat Leases (ADR 0010). */
export const PLAN_NAMESPACE = "keepalived-vip-nodes";
export const CRD_FILE = join(REPO_ROOT, "crds/keepalived-vip.io_virtualips.yaml");

/** A Kubernetes object as far as these tests read it. */
export interface Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: unknown;
}

let helmHome: string | undefined;

/** Private HOME/cache/config for helm, so no user state leaks in or out. */
function helmEnv(kubeconfig?: string): NodeJS.ProcessEnv {
  if (helmHome === undefined) {
    const dir = mkdtempSync(join(tmpdir(), "kvo-helm-"));
    helmHome = dir;
    registerCleanup(() => rmSync(dir, { recursive: true, force: true }));
  }
  return {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: helmHome,
    HELM_CACHE_HOME: join(helmHome, "cache"),
    HELM_CONFIG_HOME: join(helmHome, "config"),
    HELM_DATA_HOME: join(helmHome, "data"),
    ...(kubeconfig ? { KUBECONFIG: kubeconfig } : {}),
  };
}

/** Runs the built helm; never throws on a non-zero exit (check the code). */
export async function helm(args: readonly string[], opts: { kubeconfig?: string; input?: string } = {}): Promise<CommandResult> {
  const bins = await resolveK8sBins();
  return runCommand(bins.helm, args, { env: helmEnv(opts.kubeconfig), check: false, input: opts.input, timeoutMs: 120_000 });
}

/** Parses a multi-document YAML stream into objects (empty documents dropped). */
export function parseObjects(text: string): Obj[] {
  return yaml.loadAll(text).filter((d): d is Obj => d !== null && typeof d === "object" && "kind" in d);
}

/** `helm template` of the chart with these values (as a YAML/JSON values file); throws with helm's output on failure. */
export async function renderChart(values: Record<string, unknown> = {}, extra: readonly string[] = []): Promise<Obj[]> {
  const res = await renderChartRaw(values, extra);
  if (res.code !== 0) throw new Error(`helm template failed:\n${res.stderr}`);
  return parseObjects(res.stdout);
}

/** `helm template` with a values file on stdin; resolves helm's result as is. */
export function renderChartRaw(values: Record<string, unknown> = {}, extra: readonly string[] = []): Promise<CommandResult> {
  return helm(["template", "kvo", CHART_DIR, "--namespace", NAMESPACE, "--values", "-", ...extra], { input: JSON.stringify(values) });
}

/** Every object in the YAML files of a config/ folder (not kustomization.yaml). */
export function readConfigDir(dir: string): Obj[] {
  const abs = join(REPO_ROOT, dir);
  return readdirSync(abs)
    .filter((f) => /\.ya?ml$/.test(f) && f !== "kustomization.yaml")
    .sort()
    .flatMap((f) => parseObjects(readFileSync(join(abs, f), "utf8")));
}

/** The object of this kind and name, or a thrown error listing what there is. */
export function find(objs: readonly Obj[], kind: string, name: string): Obj {
  const o = objs.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`no ${kind}/${name} among ${objs.map(ref).join(", ")}`);
  return o;
}

/** "Kind/name" (with "namespace/" for namespaced objects when asked). */
export function ref(o: Obj): string {
  return `${o.kind}/${o.metadata.name}`;
}

const RBAC_KINDS = new Set([
  "ClusterRole",
  "Role",
  "ClusterRoleBinding",
  "RoleBinding",
  "ServiceAccount",
  "ValidatingAdmissionPolicy",
  "ValidatingAdmissionPolicyBinding",
]);

/** A PolicyRule with every list sorted, so equal rules compare equal. */
interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames: string[];
  nonResourceURLs: string[];
}

function sortedList(v: unknown): string[] {
  return Array.isArray(v) ? [...(v as string[])].sort() : [];
}

/**
 * The authorisation content of RBAC objects and of the agent's admission
 * policies, keyed by "Kind/namespace/name" (the release namespace written
 * as "<release>", since the chart installs into any; the plan's namespace
 * as itself): sorted rules of roles; roleRef and subjects of bindings; the
 * name of ServiceAccounts; the spec of admission policies and their bindings.
 */
export function rbacContent(objs: readonly Obj[]): Map<string, unknown> {
  const out = new Map<string, unknown>();
  const ref = (o: Obj): string => {
    const ns = o.metadata.namespace === undefined ? "" : o.metadata.namespace === NAMESPACE ? "<release>/" : `${o.metadata.namespace}/`;
    return `${o.kind}/${ns}${o.metadata.name}`;
  };
  for (const o of objs.filter((x) => RBAC_KINDS.has(x.kind))) {
    if (o.kind === "ClusterRole" || o.kind === "Role") {
      const rules = ((o.rules as Record<string, unknown>[] | undefined) ?? []).map((r): Rule => ({
        apiGroups: sortedList(r.apiGroups),
        resources: sortedList(r.resources),
        verbs: sortedList(r.verbs),
        resourceNames: sortedList(r.resourceNames),
        nonResourceURLs: sortedList(r.nonResourceURLs),
      }));
      rules.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
      out.set(ref(o), { rules, aggregationRule: o.aggregationRule ?? null });
    } else if (o.kind === "ClusterRoleBinding" || o.kind === "RoleBinding") {
      const subjects = ((o.subjects as Record<string, unknown>[] | undefined) ?? []).map((s) => ({ kind: s.kind, name: s.name }));
      out.set(ref(o), { roleRef: o.roleRef, subjects });
    } else if (o.kind.startsWith("ValidatingAdmissionPolicy")) {
      out.set(ref(o), o.spec);
    } else {
      out.set(ref(o), { name: o.metadata.name });
    }
  }
  return out;
}
