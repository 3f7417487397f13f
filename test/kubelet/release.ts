// The kubelet tier's building blocks: the cluster with the project image in
// every node, the README's install (Helm or kustomize) with room for more
// values and objects, a whoami DaemonSet that answers at any address its node
// holds, the probe from the client namespace, and reads of pods, Leases and
// addresses. Does I/O.
import { createInterface } from "node:readline";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import yaml from "js-yaml";
import { LEADER_LEASE_NAME } from "../../src/api/index.js";
import { ensureImage } from "../support/image.js";
import { REPO_ROOT } from "../support/k8sbins.js";
import { startKubeletCluster, type KubeletCluster } from "../support/kubeletcluster.js";
import { sleep } from "../support/process.js";
import { monotonicNow } from "../support/clock.js";

/** Namespace and release name of the README. */
export const NAMESPACE = "keepalived-vip-system";
export const RELEASE = "keepalived-vip";
/** The image the chart and config/default name by default; `make image` builds it as localhost/keepalived-vip-operator:dev. */
export const CHART_IMAGE = "ghcr.io/keepalived-vip/keepalived-vip-operator:0.1.0";
/** The tier's VirtualIP: a free address of the node subnet, answered by whoami on the node that holds it. */
export const VIP = { name: "whoami", namespace: "default", address: "192.0.2.50", virtualRouterId: 51 };
export const WHOAMI_PORT = 80;
const PROBER = join(REPO_ROOT, "test/e2e/prober.mjs");

/** Starts three kubelet nodes with the project image (built by `make image` first) under the chart's default name. */
export async function startCluster(progress?: (line: string) => void): Promise<KubeletCluster> {
  const source = await ensureImage();
  return startKubeletCluster({ nodeCount: 3, images: [{ source, names: [CHART_IMAGE] }], progress });
}

/** The pool of config/samples/virtualippool.yaml: what `make demo` creates, and what admits the tier's VirtualIP. */
const SAMPLE_POOL = readFileSync(join(REPO_ROOT, "config/samples/virtualippool.yaml"), "utf8");

/**
 * What the tier's VirtualIP needs from every install besides the operator:
 * the pool that admits its address, as the chart's `pools:` value for
 * `helm install` and as an object after `kubectl apply -k config/default`
 * (the README's two ways), so every install of the tier and the demo gets it.
 */
export const RELEASE_EXTRAS: { helmValues?: Record<string, unknown>; kustomizeObjects?: string } = {
  helmValues: { pools: [{ name: "demo", ...(yaml.load(SAMPLE_POOL) as { spec: Record<string, unknown> }).spec }] },
  kustomizeObjects: SAMPLE_POOL,
};

/** How the operator is installed: the README's two ways. */
export type InstallMethod = "helm" | "kustomize";

/** Options of {@link install}. */
export interface InstallOptions {
  method: InstallMethod;
  /** Helm values on top of the chart's (e.g. `pools: [...]`); a values file is written for them. */
  values?: Record<string, unknown>;
  /** More objects (YAML or JSON text) applied after the operator, e.g. pools. */
  objects?: string;
}

/**
 * The README's install: create and label the namespace, then `helm install`
 * of the chart (or `kubectl apply --server-side -k config/default`) with
 * {@link RELEASE_EXTRAS}, then the extra objects. Waits for nothing: see
 * {@link waitForOperatorAndAgents}.
 */
export async function install(c: KubeletCluster, opts: InstallOptions): Promise<void> {
  if (opts.method === "helm") {
    await c.kubectl(["create", "namespace", NAMESPACE]);
    await c.kubectl(["label", "namespace", NAMESPACE, "pod-security.kubernetes.io/enforce=privileged"]);
    const args = ["install", RELEASE, "charts/keepalived-vip-operator", "-n", NAMESPACE];
    const values = { ...RELEASE_EXTRAS.helmValues, ...opts.values };
    if (Object.keys(values).length > 0) args.push("-f", valuesFile(c, "install", values));
    await c.helm(args);
  } else {
    await c.kubectl(["apply", "--server-side", "-k", join(REPO_ROOT, "config/default")], { timeoutMs: 120_000 });
    if (RELEASE_EXTRAS.kustomizeObjects !== undefined) await c.kubectl(["apply", "--server-side", "-f", "-"], { input: RELEASE_EXTRAS.kustomizeObjects });
  }
  if (opts.objects !== undefined) await c.kubectl(["apply", "--server-side", "-f", "-"], { input: opts.objects });
}

/** `helm upgrade` of the release with the chart, {@link RELEASE_EXTRAS} and these values (reusing none of the old ones). */
export async function upgrade(c: KubeletCluster, values: Record<string, unknown>): Promise<void> {
  await c.helm([
    "upgrade",
    RELEASE,
    "charts/keepalived-vip-operator",
    "-n",
    NAMESPACE,
    "-f",
    valuesFile(c, "upgrade", { ...RELEASE_EXTRAS.helmValues, ...values }),
  ]);
}

function valuesFile(c: KubeletCluster, name: string, values: Record<string, unknown>): string {
  const path = join(c.dataDir, `values-${name}.yaml`);
  writeFileSync(path, yaml.dump(values));
  return path;
}

/** A hostNetwork DaemonSet (the project image's node) answering every request with its node name, its Service, and the VirtualIP. */
export function whoamiManifests(): string {
  const script = [
    "const name = process.env.NODE_NAME;",
    "require('node:http').createServer((req, res) => { res.setHeader('connection', 'close'); res.end(name); })",
    `  .listen({ port: ${WHOAMI_PORT}, host: '::', ipv6Only: false }, () => console.log('listening'));`,
    "process.on('SIGTERM', () => process.exit(0));",
  ].join("\n");
  const labels = { app: "whoami" };
  const objects = [
    {
      apiVersion: "apps/v1",
      kind: "DaemonSet",
      metadata: { name: "whoami", namespace: VIP.namespace },
      spec: {
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            hostNetwork: true,
            automountServiceAccountToken: false,
            terminationGracePeriodSeconds: 2,
            tolerations: [{ operator: "Exists" }],
            containers: [
              {
                name: "whoami",
                image: CHART_IMAGE,
                imagePullPolicy: "IfNotPresent",
                command: ["node", "-e", script],
                env: [{ name: "NODE_NAME", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } }],
                securityContext: { runAsUser: 0 },
                readinessProbe: { tcpSocket: { port: WHOAMI_PORT }, periodSeconds: 2 },
              },
            ],
          },
        },
      },
    },
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "whoami", namespace: VIP.namespace },
      spec: { type: "LoadBalancer", selector: labels, ports: [{ name: "http", port: WHOAMI_PORT, targetPort: WHOAMI_PORT }] },
    },
  ];
  return objects.map((o) => yaml.dump(o)).join("---\n");
}

/** The tier's VirtualIP (1 s adverts, as the README's). */
export function virtualIPManifest(): string {
  return yaml.dump({
    apiVersion: "keepalived-vip.io/v1alpha1",
    kind: "VirtualIP",
    metadata: { name: VIP.name, namespace: VIP.namespace },
    spec: { serviceRef: { name: "whoami" }, address: VIP.address, virtualRouterId: VIP.virtualRouterId, forwarding: "kube-proxy" },
  });
}

/** What the tier reads of a pod. */
export interface PodInfo {
  name: string;
  node: string;
  phase: string;
  ready: boolean;
  restarts: number;
  deleting: boolean;
  uid: string;
}

/** Pods of the operator or the agents (by app.kubernetes.io/component). */
export async function pods(c: KubeletCluster, component: "operator" | "agent"): Promise<PodInfo[]> {
  const res = await c.kubectl(["get", "pods", "-n", NAMESPACE, "-l", `app.kubernetes.io/component=${component}`, "-o", "json"]);
  const items = (
    JSON.parse(res.stdout) as {
      items: {
        metadata: { name: string; uid: string; deletionTimestamp?: string };
        spec: { nodeName?: string };
        status: { phase?: string; conditions?: { type: string; status: string }[]; containerStatuses?: { restartCount: number }[] };
      }[];
    }
  ).items;
  return items.map((p) => ({
    name: p.metadata.name,
    uid: p.metadata.uid,
    node: p.spec.nodeName ?? "",
    phase: p.status.phase ?? "",
    ready: p.status.conditions?.some((x) => x.type === "Ready" && x.status === "True") ?? false,
    restarts: (p.status.containerStatuses ?? []).reduce((s, x) => s + x.restartCount, 0),
    deleting: p.metadata.deletionTimestamp !== undefined,
  }));
}

/** Polls `fn` until it returns a value other than undefined; throws after `timeoutMs` with `detail()`. */
export async function waitFor<T>(
  what: string,
  timeoutMs: number,
  fn: () => Promise<T | undefined>,
  detail: () => Promise<string> | string = () => "",
): Promise<T> {
  const t0 = monotonicNow();
  const deadline = t0 + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) {
      if (monotonicNow() - t0 > 5_000) console.log(`# waited ${monotonicNow() - t0} ms: ${what}`);
      return v;
    }
    if (monotonicNow() > deadline) throw new Error(`${what}: not after ${timeoutMs} ms\n${await detail()}`);
    await sleep(500);
  }
}

/** Waits until `operators` operator pods and one agent pod per node are Running and Ready. */
export async function waitForOperatorAndAgents(c: KubeletCluster, operators = 2, timeoutMs = 180_000): Promise<{ operators: PodInfo[]; agents: PodInfo[] }> {
  const nodeNames = c.kubeletNodes.map((n) => n.name).sort();
  return waitFor(
    `${operators} operator pods and an agent pod on each of ${nodeNames.join(", ")} Running and Ready`,
    timeoutMs,
    async () => {
      const ops = (await pods(c, "operator")).filter((p) => !p.deleting);
      const agents = (await pods(c, "agent")).filter((p) => !p.deleting);
      const ok =
        ops.length === operators &&
        ops.every((p) => p.phase === "Running" && p.ready) &&
        agents.every((p) => p.phase === "Running" && p.ready) &&
        JSON.stringify(agents.map((p) => p.node).sort()) === JSON.stringify(nodeNames);
      return ok ? { operators: ops, agents } : undefined;
    },
    async () =>
      `${(await c.kubectl(["get", "pods", "-A", "-o", "wide"], { check: false })).stdout}\n${(await c.kubectl(["get", "events", "-A", "--sort-by=.lastTimestamp"], { check: false })).stdout.split("\n").slice(-25).join("\n")}\n${c.logs(10)}`,
  );
}

/** holderIdentity of the operator's leader Lease, or undefined. */
export async function leader(c: KubeletCluster): Promise<string | undefined> {
  const res = await c.kubectl(["get", "lease", LEADER_LEASE_NAME, "-n", NAMESPACE, "-o", "jsonpath={.spec.holderIdentity}"], { check: false });
  return res.code === 0 && res.stdout.trim() !== "" ? res.stdout.trim() : undefined;
}

/** Nodes whose eth0 holds `address` right now. */
export async function holders(c: KubeletCluster, address = VIP.address): Promise<string[]> {
  const out: string[] = [];
  for (const n of c.kubeletNodes) {
    const res = await c.nodes.exec(n.net, "ip", ["-o", "addr", "show"], { check: false });
    if (res.stdout.split("\n").some((l) => l.includes(` ${address}/`))) out.push(n.name);
  }
  return out;
}

/** status.master of the VirtualIP and each node's state. */
export async function vipStatus(c: KubeletCluster): Promise<{ master?: string; nodes: Record<string, string> }> {
  const res = await c.kubectl(["get", "virtualip", VIP.name, "-n", VIP.namespace, "-o", "json"], { check: false });
  if (res.code !== 0) return { nodes: {} };
  const st = (JSON.parse(res.stdout) as { status?: { master?: string; nodes?: { name: string; state: string }[] } }).status;
  return { master: st?.master, nodes: Object.fromEntries((st?.nodes ?? []).map((n) => [n.name, n.state])) };
}

/** One HTTP GET from the client namespace: the body (a node name) or undefined. */
export async function whoAnswers(c: KubeletCluster, address = VIP.address): Promise<string | undefined> {
  const res = await c.nodes.exec(
    "client",
    process.execPath,
    [PROBER, `--url=http://${address}:${WHOAMI_PORT}/`, "--interval-ms=200", "--timeout-ms=1000", "--max-seconds=1"],
    {
      check: false,
      timeoutMs: 10_000,
    },
  );
  for (const line of res.stdout.split("\n")) {
    try {
      const r = (JSON.parse(line) as { r: string }).r;
      if (!r.startsWith("!")) return r;
    } catch {
      // not a sample
    }
  }
  return undefined;
}

/** A steady state: one node holds the VIP, it is status.master, it answers, the others are BACKUP. Resolves the MASTER. */
export async function waitForOneMaster(c: KubeletCluster, timeoutMs = 120_000): Promise<string> {
  return waitFor(
    `VirtualIP ${VIP.name}: one MASTER holding ${VIP.address} and answering, the other nodes BACKUP`,
    timeoutMs,
    async () => {
      const held = await holders(c);
      const st = await vipStatus(c);
      if (held.length !== 1 || st.master !== held[0]) return undefined;
      const states = c.kubeletNodes.map((n) => st.nodes[n.name]);
      if (states.filter((s) => s === "MASTER").length !== 1 || states.filter((s) => s === "BACKUP").length !== c.kubeletNodes.length - 1) return undefined;
      return (await whoAnswers(c)) === held[0] ? held[0] : undefined;
    },
    async () =>
      `holders: ${(await holders(c)).join(",")}; status: ${JSON.stringify(await vipStatus(c))}\n${(await c.kubectl(["get", "vip", "-A", "-o", "wide"], { check: false })).stdout}`,
  );
}

/** A running probe of the VIP from the client namespace (prober.mjs, one request every 50 ms). */
export interface VipProbe {
  /** Requests finished so far: total, failed, and the longest run of consecutive failures (ms). */
  counts(from?: number): { total: number; failed: number; longestOutageMs: number; answeredBy: Record<string, number> };
  stop(): Promise<void>;
}

export async function startVipProbe(c: KubeletCluster, address = VIP.address): Promise<VipProbe> {
  const proc = c.nodes.spawn(
    "client",
    process.execPath,
    [PROBER, `--url=http://${address}:${WHOAMI_PORT}/`, "--interval-ms=50", "--timeout-ms=300", "--max-seconds=1800"],
    { pipe: true },
  );
  const samples: { s: number; e: number; r: string }[] = [];
  proc.child.stderr?.resume();
  createInterface({ input: proc.child.stdout! }).on("line", (line) => {
    try {
      samples.push(JSON.parse(line) as { s: number; e: number; r: string });
    } catch {
      // not a sample
    }
  });
  await waitFor("first probe answer", 15_000, () => Promise.resolve(samples.some((s) => !s.r.startsWith("!")) ? true : undefined));
  return {
    counts(from = 0) {
      const window = samples.filter((s) => s.s >= from).sort((a, b) => a.s - b.s);
      let longest = 0;
      let outageStart: number | undefined;
      const answeredBy: Record<string, number> = {};
      for (const s of window) {
        if (s.r.startsWith("!")) {
          outageStart ??= s.s;
          longest = Math.max(longest, s.e - outageStart);
        } else {
          outageStart = undefined;
          answeredBy[s.r] = (answeredBy[s.r] ?? 0) + 1;
        }
      }
      return { total: window.length, failed: window.filter((s) => s.r.startsWith("!")).length, longestOutageMs: longest, answeredBy };
    },
    stop: () => proc.stop(1_000),
  };
}
