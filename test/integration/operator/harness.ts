// Test harness for the operator against a real API server: a control plane
// with the CRD and the operator's own RBAC, the operator as a child process
// with its ServiceAccount token, and helpers acting as Nodes, Services and agents. Does I/O.
import type { ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  ANNOTATION_DEFAULT_INTERFACE,
  ANNOTATION_FINALIZER_POLICY,
  ANNOTATION_INSTANCE,
  ANNOTATION_RUNNING_ADDRESSES,
  API_VERSION,
  COMPONENT_INSTANCE_CONFIG,
  FINALIZER,
  FINALIZER_POLICY_OPEN,
  GROUP,
  KIND,
  LABEL_COMPONENT,
  LEADER_LEASE_NAME,
  PLURAL,
  SECRET_KEY_INSTANCE,
  SECRET_KEY_NODE,
  publishedInstanceSchema,
  publishedNodeSchema,
  VERSION,
  agentFieldManager,
  agentLeaseName,
  nodeConfigSecretName,
  type NodeInstanceMap,
  type PublishedInstance,
  type NodeStatus,
} from "../../../src/api/index.js";
import { assembleNodeConfig } from "../../../src/render/index.js";
import { applyVirtualIPStatus, createKubeClients, errorStatus, k8s, type KubeClients } from "../../../src/kube/client.js";
import { formatMicroTime } from "../../../src/kube/leader.js";
import { encodeRunningSet } from "../../../src/shared/running-set.js";
import { freePort, installProjectCRDs, kubectl, REPO_ROOT, startControlPlane, type ControlPlane } from "../../support/index.js";
import { startDaemon, stopChild, tailFile } from "../../support/process.js";

/** Namespace of the operator in these tests (the manifests' own). */
export const NS = "keepalived-vip-system";
/** ServiceAccount the operator runs as. */
export const OPERATOR_SA = "keepalived-vip-operator";
/** Namespace of the test workloads. */
export const APP_NS = "default";

const MERGE = { headers: { "Content-Type": k8s.PatchUtils.PATCH_FORMAT_JSON_MERGE_PATCH } };

/** A control plane prepared for the operator. */
export interface OperatorEnv {
  cp: ControlPlane;
  /** Admin clients (the test acting as users, Nodes and agents). */
  admin: KubeClients;
  /** Kubeconfig with the operator ServiceAccount's token. */
  operatorKubeconfig: string;
}

/** The operator's RBAC manifests as files (config/rbac/operator_*.yaml and the ServiceAccount). */
export function operatorRbacFiles(): string[] {
  return [
    "config/manager/service_account.yaml",
    "config/rbac/operator_role.yaml",
    "config/rbac/operator_role_binding.yaml",
    "config/rbac/operator_namespace_role.yaml",
    "config/rbac/operator_namespace_role_binding.yaml",
    "config/rbac/operator_plan_role.yaml",
    "config/rbac/operator_plan_role_binding.yaml",
  ].map((f) => join(REPO_ROOT, f));
}

/**
 * Starts a control plane, installs the CRDs (and the permissive test pool unless
 * `pool` is false), creates the namespace and applies
 * the operator's RBAC exactly as shipped (namespace substituted), and mints
 * a token for its ServiceAccount.
 */
export async function startOperatorEnv(opts: { namespace?: string; apiServerFlags?: string[]; pool?: boolean } = {}): Promise<OperatorEnv> {
  const ns = opts.namespace ?? NS;
  const cp = await startControlPlane({ apiServerFlags: opts.apiServerFlags ?? [] });
  try {
    await installProjectCRDs(cp, { pool: opts.pool ?? true });
    await cp.ensureNamespace(ns);
    const manifests = operatorRbacFiles()
      // The plan's namespace is the operator's own here (the operator runs without --plan-namespace).
      .map((f) => readFileSync(f, "utf8").replaceAll("keepalived-vip-nodes", ns).replaceAll(NS, ns))
      .join("\n---\n");
    await kubectl(cp, ["apply", "-f", "-"], { input: manifests });
    const operatorKubeconfig = await cp.kubeconfigFor(ns, OPERATOR_SA);
    return { cp, admin: createKubeClients({ kubeconfig: cp.kubeconfigPath }), operatorKubeconfig };
  } catch (err) {
    await cp.stop();
    throw err;
  }
}

/** The shipped policy that has the API server add the operator's finalizer at create (Kubernetes 1.36+, ADR 0022). */
export const FINALIZER_POLICY_FILE = join(REPO_ROOT, "config/finalizer-policy/finalizer_policy.yaml");

/** {@link FINALIZER_POLICY_FILE} as shipped, its parameter the plan's namespace `planNamespace` (the operator's own here). */
export function finalizerPolicyManifest(planNamespace: string = NS): string {
  return readFileSync(FINALIZER_POLICY_FILE, "utf8").replaceAll("keepalived-vip-nodes", planNamespace);
}

/** Applies {@link finalizerPolicyManifest}. It acts once the operator opened its gate ({@link waitForFinalizerGate}, ADR 0024). */
export async function installFinalizerPolicy(env: OperatorEnv): Promise<void> {
  await kubectl(env.cp, ["apply", "--server-side", "-f", "-"], { input: finalizerPolicyManifest() });
}

/**
 * Waits until the operator has opened the finalizer policy's gate (the plan
 * namespace's annotation) and the API server applies the policy: a tenant's
 * dry-run create comes back with the finalizer. Resolves the ms it took.
 */
export async function waitForFinalizerGate(env: OperatorEnv, timeoutMs = 60_000): Promise<number> {
  const start = Date.now();
  const probe = vipBody("finalizer-gate-check", { service: "none", address: "192.0.2.254", virtualRouterId: 1 }, APP_NS);
  await eventually(
    async () => {
      const ns = await env.admin.core.readNamespace(NS);
      if (ns.body.metadata?.annotations?.[ANNOTATION_FINALIZER_POLICY] !== FINALIZER_POLICY_OPEN) return undefined;
      const res = await env.admin.custom.createNamespacedCustomObject(GROUP, VERSION, APP_NS, PLURAL, probe, undefined, "All");
      return ((res.body as StoredVip).metadata.finalizers ?? []).includes(FINALIZER) ? true : undefined;
    },
    { timeoutMs, what: "the operator to open the finalizer policy's gate" },
  );
  return Date.now() - start;
}

/** Parsed Prometheus text: "name{labels}" -> value. */
export type Samples = Map<string, number>;

/** Parses Prometheus text exposition into samples. */
export function parseMetrics(text: string): Samples {
  const out: Samples = new Map();
  for (const line of text.split("\n")) {
    if (line.startsWith("#") || line.trim() === "") continue;
    const i = line.lastIndexOf(" ");
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

/** Sum of keepalived_vip_operator_kube_writes_total, without the leader Lease's renewals unless asked. */
export function writesOf(samples: Samples, opts: { includeLeases?: boolean } = {}): number {
  let n = 0;
  for (const [k, v] of samples) {
    if (!k.startsWith("keepalived_vip_operator_kube_writes_total{")) continue;
    if (!opts.includeLeases && k.includes('resource="leases"')) continue;
    n += v;
  }
  return n;
}

/** An operator child process. */
export interface OperatorProcess {
  identity: string;
  child: ChildProcess;
  logFile: string;
  metricsPort: number;
  /** Resolves the metrics now. */
  metrics(): Promise<Samples>;
  /** Writes so far, without leader-election renewals. */
  writes(): Promise<number>;
  /** Whether /readyz says the cache is synced. */
  ready(): Promise<boolean>;
  /** SIGTERM and wait (graceful: releases the leader Lease). */
  stop(): Promise<void>;
  /** SIGKILL and wait. */
  kill(): Promise<void>;
  exited(): boolean;
  log(): string;
}

async function httpGet(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: await res.text() };
}

/**
 * Starts `keepalived-vip operator` with the operator's ServiceAccount token:
 * from source through tsx, or with `fromDist` the compiled dist/main.js (what
 * the image runs; `make build` first).
 */
export async function runOperator(
  env: OperatorEnv,
  opts: { identity: string; args?: string[]; namespace?: string; nodeOptions?: string; fromDist?: boolean; env?: Record<string, string> },
): Promise<OperatorProcess> {
  const metricsPort = await freePort();
  const logFile = join(env.cp.dataDir, `operator-${opts.identity}.log`);
  const entry = opts.fromDist ? [join(REPO_ROOT, "dist/main.js")] : ["--import", "tsx", join(REPO_ROOT, "src/main.ts")];
  const args = [
    ...entry,
    "operator",
    `--kubeconfig=${env.operatorKubeconfig}`,
    `--namespace=${opts.namespace ?? NS}`,
    `--identity=${opts.identity}`,
    `--metrics-bind-address=127.0.0.1:${metricsPort}`,
    ...(opts.args ?? []),
  ];
  const childEnv: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: env.cp.dataDir, LOG_LEVEL: process.env.OPERATOR_LOG_LEVEL ?? "info" };
  if (opts.nodeOptions) childEnv.NODE_OPTIONS = opts.nodeOptions;
  for (const [k, v] of Object.entries(opts.env ?? {})) childEnv[k] = v;
  const child = startDaemon(process.execPath, args, { logFile, cwd: REPO_ROOT, env: childEnv });
  const base = `http://127.0.0.1:${metricsPort}`;
  const proc: OperatorProcess = {
    identity: opts.identity,
    child,
    logFile,
    metricsPort,
    metrics: async () => parseMetrics((await httpGet(`${base}/metrics`)).body),
    writes: async () => writesOf(await proc.metrics()),
    ready: async () => {
      try {
        return (await httpGet(`${base}/readyz`)).status === 200;
      } catch {
        return false;
      }
    },
    stop: () => stopChild(child, 15_000),
    kill: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.ref();
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      child.kill("SIGKILL");
      await exited;
    },
    exited: () => child.exitCode !== null || child.signalCode !== null,
    log: () => tailFile(logFile, 60),
  };
  await eventually(async () => (proc.exited() ? Promise.reject(new Error(`operator exited:\n${proc.log()}`)) : proc.ready()), {
    timeoutMs: 60_000,
    what: `operator ${opts.identity} ready`,
  });
  return proc;
}

/** Polls `probe` until it returns a truthy value (or stops throwing); resolves that value. */
export async function eventually<T>(
  probe: () => Promise<T | undefined | false | null> | T | undefined | false | null,
  opts: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 20_000);
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
      last = undefined;
    } catch (err) {
      last = err;
      if (err instanceof Error && err.message.startsWith("operator exited")) throw err;
    }
    if (Date.now() > deadline) {
      const why = last instanceof Error ? `: ${last.message}` : "";
      throw new Error(`timed out waiting for ${opts.what ?? "a condition"}${why}`);
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 100));
  }
}

// ---- the test acting as the cluster ------------------------------------------------

/** Creates a Node with an InternalIP (status written like a kubelet would). */
export async function createNode(env: OperatorEnv, name: string, opts: { ip: string; labels?: Record<string, string> }): Promise<void> {
  await env.admin.core.createNode({
    apiVersion: "v1",
    kind: "Node",
    metadata: { name, labels: { "kubernetes.io/os": "linux", "kubernetes.io/hostname": name, ...opts.labels } },
  });
  await env.admin.core.patchNodeStatus(
    name,
    {
      status: {
        addresses: [
          { type: "InternalIP", address: opts.ip },
          { type: "Hostname", address: name },
        ],
      },
    },
    undefined,
    undefined,
    undefined,
    undefined,
    undefined,
    MERGE,
  );
}

/** Merges labels into a Node (null removes one). */
export async function labelNode(env: OperatorEnv, name: string, labels: Record<string, string | null>): Promise<void> {
  await env.admin.core.patchNode(name, { metadata: { labels } }, undefined, undefined, undefined, undefined, undefined, MERGE);
}

export async function deleteNode(env: OperatorEnv, name: string): Promise<void> {
  await env.admin.core.deleteNode(name);
}

/** Creates a Service (default: type LoadBalancer, port 80). */
export async function createService(
  env: OperatorEnv,
  name: string,
  opts: { type?: string; loadBalancerClass?: string; namespace?: string } = {},
): Promise<void> {
  const spec: k8s.V1ServiceSpec = { type: opts.type ?? "LoadBalancer", ports: [{ name: "http", port: 80, protocol: "TCP" }], selector: { app: name } };
  if (opts.loadBalancerClass) spec.loadBalancerClass = opts.loadBalancerClass;
  if (spec.type === "LoadBalancer") spec.allocateLoadBalancerNodePorts = false;
  await env.admin.core.createNamespacedService(opts.namespace ?? APP_NS, { apiVersion: "v1", kind: "Service", metadata: { name }, spec });
}

/** A VirtualIP's spec as the tests write it. */
export interface VipSpec {
  service: string;
  address: string;
  virtualRouterId: number;
  forwarding?: "ipvs" | "kube-proxy";
  nodeSelector?: { matchLabels?: Record<string, string> };
  interface?: string;
  vrrp?: Record<string, unknown>;
}

function vipBody(name: string, spec: VipSpec, namespace = APP_NS): Record<string, unknown> {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name, namespace },
    spec: {
      serviceRef: { name: spec.service },
      address: spec.address,
      virtualRouterId: spec.virtualRouterId,
      forwarding: spec.forwarding ?? "kube-proxy",
      ...(spec.nodeSelector ? { nodeSelector: spec.nodeSelector } : {}),
      ...(spec.interface ? { interface: spec.interface } : {}),
      ...(spec.vrrp ? { vrrp: spec.vrrp } : {}),
    },
  };
}

export async function createVip(env: OperatorEnv, name: string, spec: VipSpec, namespace = APP_NS): Promise<void> {
  await env.admin.custom.createNamespacedCustomObject(GROUP, VERSION, namespace, PLURAL, vipBody(name, spec, namespace));
}

/** Merge-patches a VirtualIP's spec. */
export async function patchVipSpec(env: OperatorEnv, name: string, spec: Record<string, unknown>, namespace = APP_NS): Promise<void> {
  await env.admin.custom.patchNamespacedCustomObject(GROUP, VERSION, namespace, PLURAL, name, { spec }, undefined, undefined, undefined, MERGE);
}

export async function deleteVip(env: OperatorEnv, name: string, namespace = APP_NS): Promise<void> {
  await env.admin.custom.deleteNamespacedCustomObject(GROUP, VERSION, namespace, PLURAL, name);
}

/** A VirtualIP as stored (raw JSON); undefined when it does not exist. */
export interface StoredVip {
  metadata: { name: string; generation?: number; finalizers?: string[]; deletionTimestamp?: string; resourceVersion?: string; uid?: string };
  spec: Record<string, unknown>;
  status?: {
    observedGeneration?: number;
    master?: string;
    failovers?: number;
    lastFailoverTime?: string;
    nodes?: NodeStatus[];
    conditions?: { type: string; status: string; reason: string; message: string; lastTransitionTime: string }[];
  };
}

export async function readVip(env: OperatorEnv, name: string, namespace = APP_NS): Promise<StoredVip | undefined> {
  try {
    return (await env.admin.custom.getNamespacedCustomObject(GROUP, VERSION, namespace, PLURAL, name)).body as StoredVip;
  } catch (err) {
    if (errorStatus(err) === 404) return undefined;
    throw err;
  }
}

/** The condition of a type, if any. */
export function conditionOf(
  vip: StoredVip | undefined,
  type: string,
): { status: string; reason: string; message: string; lastTransitionTime: string } | undefined {
  return vip?.status?.conditions?.find((c) => c.type === type);
}

/** Waits until the VirtualIP's Ready reason is `reason` with observedGeneration current; resolves the object. */
export function waitForReady(env: OperatorEnv, name: string, reason: string, timeoutMs = 20_000, namespace = APP_NS): Promise<StoredVip> {
  return eventually(
    async () => {
      const v = await readVip(env, name, namespace);
      return v && v.status?.observedGeneration === v.metadata.generation && conditionOf(v, "Ready")?.reason === reason ? v : undefined;
    },
    { timeoutMs, what: `VirtualIP ${name} Ready reason ${reason}` },
  );
}

/**
 * A node's config as its agent would assemble it from its node Secret and
 * the instance Secrets; undefined when the node Secret does not exist.
 */
export interface NodeConfigSecret {
  /** The assembled keepalived.conf ("" while the published plan is between two writes). */
  config: string;
  instances: NodeInstanceMap;
  /** Set while the plan cannot be assembled yet (an instance Secret missing, an address moving). */
  waiting?: string;
  /** node.json of the node Secret, as stored. */
  nodeJson: string;
  annotations: Record<string, string>;
  labels: Record<string, string>;
  ownerReferences: k8s.V1OwnerReference[];
  resourceVersion: string;
}

/** The published instances of the namespace, by their key in the plan (the instance annotation, what node entries name). */
export async function readPublishedInstances(env: OperatorEnv, namespace = NS): Promise<Map<string, PublishedInstance>> {
  const res = await env.admin.core.listNamespacedSecret(
    namespace,
    undefined,
    undefined,
    undefined,
    undefined,
    `${LABEL_COMPONENT}=${COMPONENT_INSTANCE_CONFIG}`,
  );
  const out = new Map<string, PublishedInstance>();
  for (const s of res.body.items) {
    const inst = publishedInstanceSchema.parse(JSON.parse(Buffer.from(s.data?.[SECRET_KEY_INSTANCE] ?? "", "base64").toString("utf8")));
    out.set(s.metadata?.annotations?.[ANNOTATION_INSTANCE] ?? inst.name, inst);
  }
  return out;
}

/** `node`'s config Secret, assembled with `instances` (default: the published instances, read now). */
export async function readNodeConfig(
  env: OperatorEnv,
  node: string,
  namespace = NS,
  instances?: ReadonlyMap<string, PublishedInstance>,
): Promise<NodeConfigSecret | undefined> {
  try {
    const s = (await env.admin.core.readNamespacedSecret(nodeConfigSecretName(node), namespace)).body;
    const nodeJson = Buffer.from(s.data?.[SECRET_KEY_NODE] ?? "", "base64").toString("utf8");
    const assembled = assembleNodeConfig(publishedNodeSchema.parse(JSON.parse(nodeJson)), instances ?? (await readPublishedInstances(env, namespace)));
    if (!assembled.ok && !assembled.waiting) throw new Error(`node ${node}: ${assembled.problem}`);
    return {
      config: assembled.ok ? assembled.value.config : "",
      instances: assembled.ok ? assembled.value.instances : { node, instances: [] },
      ...(assembled.ok ? {} : { waiting: assembled.problem }),
      nodeJson,
      annotations: s.metadata?.annotations ?? {},
      labels: s.metadata?.labels ?? {},
      ownerReferences: s.metadata?.ownerReferences ?? [],
      resourceVersion: s.metadata?.resourceVersion ?? "",
    };
  } catch (err) {
    if (errorStatus(err) === 404) return undefined;
    throw err;
  }
}

/** Names of the node-config Secrets in the namespace. */
export async function listNodeConfigNames(env: OperatorEnv, namespace = NS): Promise<string[]> {
  const res = await env.admin.core.listNamespacedSecret(namespace, undefined, undefined, undefined, undefined, `${LABEL_COMPONENT}=node-config`);
  return res.body.items.map((s) => s.metadata?.name ?? "").sort();
}

/** The VirtualIPs ("namespace/name") in a node's config. */
export function vipsInConfig(cfg: NodeConfigSecret | undefined): string[] {
  return [...new Set((cfg?.instances.instances ?? []).flatMap((i) => i.virtualIPs))].sort();
}

/** The IPs in a Service's status.loadBalancer.ingress. */
export async function serviceIngress(env: OperatorEnv, name: string, namespace = APP_NS): Promise<string[]> {
  const svc = (await env.admin.core.readNamespacedService(name, namespace)).body;
  return (svc.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? "").sort();
}

/** Acts as the agent of `node`: applies its status entry with its own field manager. */
export async function reportAsAgent(env: OperatorEnv, vip: string, entry: NodeStatus, namespace = APP_NS): Promise<void> {
  await applyVirtualIPStatus(env.admin, { namespace, name: vip }, { nodes: [entry] }, { fieldManager: agentFieldManager(entry.name) });
}

/** Creates or renews the heartbeat Lease of `node` as its agent would. */
export async function renewAgentLease(
  env: OperatorEnv,
  node: string,
  opts: {
    renewTime?: number;
    durationSeconds?: number;
    iface?: string;
    namespace?: string;
    running?: readonly string[];
    annotations?: Record<string, string>;
  } = {},
): Promise<void> {
  const ns = opts.namespace ?? NS;
  const name = agentLeaseName(node);
  const annotations: Record<string, string> = { ...opts.annotations };
  if (opts.iface) annotations[ANNOTATION_DEFAULT_INTERFACE] = opts.iface;
  if (opts.running) annotations[ANNOTATION_RUNNING_ADDRESSES] = encodeRunningSet("0123456789abcdef", opts.running);
  const body = {
    apiVersion: "coordination.k8s.io/v1",
    kind: "Lease",
    metadata: { name, namespace: ns, ...(Object.keys(annotations).length > 0 ? { annotations } : {}) },
    spec: { holderIdentity: node, leaseDurationSeconds: opts.durationSeconds ?? 10, renewTime: formatMicroTime(opts.renewTime ?? Date.now()) },
  };
  await env.admin.coordination.patchNamespacedLease(name, ns, body, undefined, undefined, agentFieldManager(node), undefined, true, {
    headers: { "Content-Type": k8s.PatchUtils.PATCH_FORMAT_APPLY_YAML },
  });
}

/** The holder of the operator's leader Lease ("" when released or missing). */
export async function leaderHolder(env: OperatorEnv, namespace = NS): Promise<string> {
  try {
    const l = (await env.admin.coordination.readNamespacedLease(LEADER_LEASE_NAME, namespace)).body;
    return l.spec?.holderIdentity ?? "";
  } catch (err) {
    if (errorStatus(err) === 404) return "";
    throw err;
  }
}

/** Events on an object (type, reason, message). */
export async function eventsFor(
  env: OperatorEnv,
  name: string,
  namespace = APP_NS,
): Promise<{ type: string; reason: string; message: string; count: number }[]> {
  const res = await env.admin.core.listNamespacedEvent(namespace, undefined, undefined, undefined, `involvedObject.name=${name}`);
  return res.body.items.map((e) => ({ type: e.type ?? "", reason: e.reason ?? "", message: e.message ?? "", count: e.count ?? 1 }));
}

/** An ISO time string `ms` from now (negative: in the past). */
export function isoFromNow(ms: number): string {
  return new Date(Date.now() + ms).toISOString();
}
