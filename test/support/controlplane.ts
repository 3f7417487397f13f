// A real Kubernetes control plane for tests (etcd + kube-apiserver on this
// host, certificates from a throwaway CA), the way envtest runs one. Does I/O.
import * as k8s from "@kubernetes/client-node";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import yaml from "js-yaml";
import { registerCleanup } from "./cleanup.js";
import { resolveK8sBins, type K8sBins } from "./k8sbins.js";
import { createPki, type Pki } from "./pki.js";
import { processRef, sleep, startDaemon, stopChild, tailFile, waitForExit } from "./process.js";
import { currentRun, sweepStaleRuns } from "./runstate.js";

/** Service CIDR of the test cluster (a documentation range): cluster-internal only, never a traffic target. */
export const SERVICE_CIDR = "198.51.100.128/25";
/** ClusterIP of the `kubernetes` Service (first address of {@link SERVICE_CIDR}). */
export const KUBERNETES_SERVICE_IP = "198.51.100.129";
/** Address the API server advertises: the node bridge address (see netns.ts). */
export const ADVERTISE_ADDRESS = "192.0.2.1";

/** Where a client runs: on the host (loopback) or inside a node namespace (bridge address). */
export type ClientSite = "host" | "node";

/** Options of {@link startControlPlane}. */
export interface ControlPlaneOptions {
  /**
   * Extra IPs for the serving certificate. When set, the API server listens
   * on all addresses, and the first one is the address node namespaces use
   * (`nodeServer`, `nodeKubeconfigPath`); pass [BRIDGE_IPV4] for nodes.
   */
  extraSANs?: string[];
  /** How long to wait for /readyz (default 60 s). */
  readyTimeoutMs?: number;
  /** Extra kube-apiserver flags, appended after the defaults. */
  apiServerFlags?: string[];
  /**
   * For a cluster with kubelets and a controller manager (kubeletcluster.ts):
   * the ServiceAccount admission plugin on (pods get their token volume), and a
   * client certificate for the API server's connections to kubelets, which it
   * dials at their InternalIP.
   */
  kubelets?: boolean;
}

/** Options of {@link ControlPlane.tokenFor} and friends. */
export interface TokenOptions {
  /** Token lifetime (default 24 h). */
  expirationSeconds?: number;
  /** Server address the kubeconfig names (default "host"). */
  site?: ClientSite;
  /**
   * Binds the token to this Pod (as the kubelet's projected tokens are): the
   * API server then adds the Pod's node to the token's identity
   * (userInfo.extra["authentication.kubernetes.io/node-name"]).
   */
  boundPod?: { name: string; uid: string };
}

/** A running etcd + kube-apiserver. */
export interface ControlPlane {
  /** Directory of kube-apiserver, etcd, kubectl, helm. */
  readonly bins: K8sBins;
  /** Temporary directory: certificates, kubeconfigs, etcd data, logs (etcd.log, kube-apiserver.log). */
  readonly dataDir: string;
  /** https://127.0.0.1:<port>. */
  readonly server: string;
  /** https://<extraSANs[0]>:<port>, or undefined without extraSANs. */
  readonly nodeServer: string | undefined;
  readonly port: number;
  /** PEM file of the cluster CA. */
  readonly caPath: string;
  /** Certificates and keys (the CA key signs node certificates; sa.key is the controller manager's). */
  readonly pki: Pki;
  /** Admin (system:masters) kubeconfig for use on the host. */
  readonly kubeconfigPath: string;
  /** Admin kubeconfig whose server is {@link nodeServer}, or undefined without extraSANs. */
  readonly nodeKubeconfigPath: string | undefined;
  /** Admin client configuration. */
  readonly kc: k8s.KubeConfig;
  /** Milliseconds from the call of startControlPlane to a ready API server (binaries already present). */
  readonly startupMs: number;
  /** Pids of the running etcd and kube-apiserver (undefined when stopped). */
  pids(): { etcd: number | undefined; apiServer: number | undefined };
  /** Server URL for a client on the host or inside a node namespace. */
  serverFor(site: ClientSite): string;
  /** Creates the namespace if it does not exist. */
  ensureNamespace(name: string): Promise<void>;
  /** Creates the namespace and ServiceAccount if missing; returns a token from the TokenRequest API. */
  tokenFor(namespace: string, serviceAccount: string, opts?: TokenOptions): Promise<string>;
  /** Writes a kubeconfig with a fresh ServiceAccount token; returns its path. */
  kubeconfigFor(namespace: string, serviceAccount: string, opts?: TokenOptions): Promise<string>;
  /** Client configuration with a fresh ServiceAccount token (host address). */
  clientConfigFor(namespace: string, serviceAccount: string, opts?: TokenOptions): Promise<k8s.KubeConfig>;
  /** http://127.0.0.1:<port> of etcd (no TLS, loopback only). */
  readonly etcdUrl: string;
  /**
   * Compacts etcd's history up to its current revision (through etcd's JSON
   * gateway) and resolves that revision: a watch from an older
   * resourceVersion is then answered 410 Gone unless the API server's watch
   * cache still serves it (start it with `--watch-cache=false`).
   */
  compactEtcd(): Promise<number>;
  /** Stops kube-apiserver only (an API outage); etcd, port and certificates stay. */
  stopApiServer(): Promise<void>;
  /** Starts kube-apiserver again on the same address and waits until it is ready. */
  startApiServer(): Promise<void>;
  /** Stops both processes and removes {@link dataDir} (kept when KVO_KEEP_DATA_DIR=1). */
  stop(): Promise<void>;
}

/** A free TCP port on `host` (another process may still take it before we do). */
export function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

interface Creds {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

/** GET `path` with the admin certificate; resolves the status code (0 when unreachable). */
function getStatus(url: string, creds: Creds): Promise<number> {
  return new Promise((resolve) => {
    const req = request(url, { method: "GET", ca: creds.ca, cert: creds.cert, key: creds.key, agent: false, timeout: 2_000 }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", () => resolve(0));
    req.end();
  });
}

class StartError extends Error {
  constructor(
    message: string,
    readonly bindRace: boolean,
  ) {
    super(message);
  }
}

interface WaitOptions {
  child: ChildProcess;
  logFile: string;
  timeoutMs: number;
  probe: () => Promise<boolean>;
  what: string;
}

/** Polls `probe` until true; fails when the process exits or time runs out, with its log's tail. */
async function waitUntilReady(opts: WaitOptions): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  let exited = false;
  void waitForExit(opts.child).then(() => (exited = true));
  while (Date.now() < deadline) {
    if (await opts.probe()) return;
    if (exited) {
      const log = tailFile(opts.logFile, 40);
      throw new StartError(
        `${opts.what} exited (${opts.child.exitCode ?? opts.child.signalCode}) before it was ready; ${opts.logFile}:\n${log}`,
        /address already in use/.test(log),
      );
    }
    await sleep(100);
  }
  throw new StartError(`${opts.what} not ready after ${opts.timeoutMs} ms; ${opts.logFile}:\n${tailFile(opts.logFile, 40)}`, false);
}

function trackProcess(child: ChildProcess): void {
  const run = currentRun();
  const ref = child.pid === undefined ? undefined : processRef(child.pid);
  if (!ref) return;
  run.addProcess(ref);
  void waitForExit(child).then(() => run.removeProcess(ref.pid));
}

interface Etcd {
  child: ChildProcess;
  url: string;
}

async function startEtcd(bins: K8sBins, dataDir: string, timeoutMs: number): Promise<Etcd> {
  const logFile = join(dataDir, "etcd.log");
  for (let attempt = 1; ; attempt++) {
    const [clientPort, peerPort] = [await freePort(), await freePort()];
    const url = `http://127.0.0.1:${clientPort}`;
    const peer = `http://127.0.0.1:${peerPort}`;
    const args = [
      "--name=default",
      `--data-dir=${join(dataDir, "etcd")}`,
      `--listen-client-urls=${url}`,
      `--advertise-client-urls=${url}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=default=${peer}`,
      "--unsafe-no-fsync",
      "--log-level=warn",
    ];
    const child = startDaemon(bins.etcd, args, { logFile });
    trackProcess(child);
    try {
      await waitUntilReady({ child, logFile, timeoutMs, what: "etcd", probe: () => etcdHealthy(url) });
      return { child, url };
    } catch (err) {
      await stopChild(child, 1_000);
      if (!(err instanceof StartError && err.bindRace && attempt < 5)) throw err;
    }
  }
}

async function etcdHealthy(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1_000) });
    const body = (await res.json()) as { health?: string };
    return body.health === "true";
  } catch {
    return false;
  }
}

/** Compacts etcd at `url` to its current revision; resolves the revision. */
async function compactEtcd(url: string): Promise<number> {
  const post = async (path: string, body: unknown): Promise<Record<string, unknown>> => {
    const res = await fetch(`${url}${path}`, { method: "POST", body: JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
    const text = await res.text();
    if (!res.ok) throw new Error(`etcd ${path}: HTTP ${res.status}: ${text}`);
    return JSON.parse(text) as Record<string, unknown>;
  };
  const range = await post("/v3/kv/range", { key: Buffer.from("/").toString("base64"), limit: 1 });
  const raw = (range.header as { revision?: unknown } | undefined)?.revision;
  const revision = typeof raw === "string" || typeof raw === "number" ? String(raw) : "";
  if (!/^\d+$/.test(revision)) throw new Error(`etcd gave no revision: ${JSON.stringify(range)}`);
  await post("/v3/kv/compaction", { revision, physical: true });
  return Number(revision);
}

interface ApiServerConfig {
  bins: K8sBins;
  dataDir: string;
  pki: Pki;
  etcdUrl: string;
  bindAddress: string;
  kubelets: boolean;
  extraFlags: string[];
}

function apiServerArgs(cfg: ApiServerConfig, port: number): string[] {
  const { pki } = cfg;
  return [
    `--etcd-servers=${cfg.etcdUrl}`,
    `--bind-address=${cfg.bindAddress}`,
    `--secure-port=${port}`,
    `--advertise-address=${ADVERTISE_ADDRESS}`,
    `--cert-dir=${join(cfg.dataDir, "apiserver-certs")}`,
    `--tls-cert-file=${pki.serverCert}`,
    `--tls-private-key-file=${pki.serverKey}`,
    `--client-ca-file=${pki.caCert}`,
    "--authorization-mode=RBAC",
    "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
    `--service-account-key-file=${pki.saPub}`,
    `--service-account-signing-key-file=${pki.saKey}`,
    `--service-cluster-ip-range=${SERVICE_CIDR}`,
    // Without kubelets no controller manager runs: nothing would create the `default`
    // ServiceAccount a Pod needs, so the ServiceAccount admission plugin is off.
    ...(cfg.kubelets
      ? [
          `--kubelet-client-certificate=${pki.kubeletClientCert!}`,
          `--kubelet-client-key=${pki.kubeletClientKey!}`,
          "--kubelet-preferred-address-types=InternalIP",
        ]
      : ["--disable-admission-plugins=ServiceAccount"]),
    "--allow-privileged=true",
    "--shutdown-delay-duration=0s",
    "--profiling=false",
    ...cfg.extraFlags,
  ];
}

interface KubeconfigUser {
  name: string;
  user: Record<string, string>;
}

function renderKubeconfig(server: string, caPem: Buffer, user: KubeconfigUser): string {
  return yaml.dump({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "keepalived-vip-test", cluster: { server, "certificate-authority-data": caPem.toString("base64") } }],
    users: [user],
    contexts: [{ name: "keepalived-vip-test", context: { cluster: "keepalived-vip-test", user: user.name } }],
    "current-context": "keepalived-vip-test",
  });
}

function livePid(child: ChildProcess | undefined): number | undefined {
  return child && child.exitCode === null && child.signalCode === null ? child.pid : undefined;
}

function isConflict(err: unknown): boolean {
  const e = err as { statusCode?: number; response?: { statusCode?: number } };
  return e.statusCode === 409 || e.response?.statusCode === 409;
}

/**
 * Starts etcd and kube-apiserver with binaries from hack/k8s-bins.sh (built
 * when missing) and resolves once /readyz answers 200 and the `default`
 * namespace exists. There is no controller-manager: create namespaces and
 * ServiceAccounts explicitly (tokenFor does). Everything is stopped on
 * process exit or a signal if stop() is never called.
 */
export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const bins = await resolveK8sBins();
  const t0 = Date.now();
  sweepStaleRuns();
  const run = currentRun();
  const dataDir = mkdtempSync(join(tmpdir(), "kvo-cp-"));
  const keep = process.env.KVO_KEEP_DATA_DIR === "1";
  if (!keep) run.add("dirs", dataDir);
  const timeoutMs = opts.readyTimeoutMs ?? 60_000;
  const extraSANs = opts.extraSANs ?? [];
  const procs: { etcd?: ChildProcess; apiserver?: ChildProcess } = {};
  let stopped = false;
  const release = registerCleanup(() => {
    procs.apiserver?.kill("SIGKILL");
    procs.etcd?.kill("SIGKILL");
    if (!keep) rmSync(dataDir, { recursive: true, force: true });
  });
  const stopAll = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (procs.apiserver) await stopChild(procs.apiserver, 10_000);
    if (procs.etcd) await stopChild(procs.etcd, 5_000);
    if (!keep) {
      rmSync(dataDir, { recursive: true, force: true });
      run.remove("dirs", dataDir);
    }
    release();
  };

  try {
    const pki = await createPki({ dir: dataDir, extraSANs, serviceIP: KUBERNETES_SERVICE_IP, kubeletClient: opts.kubelets });
    const creds: Creds = { ca: readFileSync(pki.caCert), cert: readFileSync(pki.adminCert), key: readFileSync(pki.adminKey) };
    const etcd = await startEtcd(bins, dataDir, timeoutMs);
    procs.etcd = etcd.child;
    const cfg: ApiServerConfig = {
      bins,
      dataDir,
      pki,
      etcdUrl: etcd.url,
      bindAddress: extraSANs.length > 0 ? "0.0.0.0" : "127.0.0.1",
      kubelets: opts.kubelets ?? false,
      extraFlags: opts.apiServerFlags ?? [],
    };
    const logFile = join(dataDir, "kube-apiserver.log");
    const launch = async (port: number): Promise<void> => {
      const child = startDaemon(bins.kubeApiserver, apiServerArgs(cfg, port), { logFile });
      procs.apiserver = child;
      trackProcess(child);
      const base = `https://127.0.0.1:${port}`;
      try {
        await waitUntilReady({
          child,
          logFile,
          timeoutMs,
          what: "kube-apiserver",
          probe: async () => (await getStatus(`${base}/readyz`, creds)) === 200 && (await getStatus(`${base}/api/v1/namespaces/default`, creds)) === 200,
        });
      } catch (err) {
        await stopChild(child, 2_000);
        throw err;
      }
    };
    let port = 0;
    for (let attempt = 1; ; attempt++) {
      port = await freePort(cfg.bindAddress);
      try {
        await launch(port);
        break;
      } catch (err) {
        if (!(err instanceof StartError && err.bindRace && attempt < 5)) throw err;
      }
    }

    const server = `https://127.0.0.1:${port}`;
    const nodeAddress = extraSANs[0];
    const nodeServer = nodeAddress === undefined ? undefined : `https://${nodeAddress.includes(":") ? `[${nodeAddress}]` : nodeAddress}:${port}`;
    const admin: KubeconfigUser = {
      name: "admin",
      user: { "client-certificate-data": creds.cert.toString("base64"), "client-key-data": creds.key.toString("base64") },
    };
    const kubeconfigPath = join(dataDir, "admin.kubeconfig");
    const adminYaml = renderKubeconfig(server, creds.ca, admin);
    writeFileSync(kubeconfigPath, adminYaml, { mode: 0o600 });
    let nodeKubeconfigPath: string | undefined;
    if (nodeServer !== undefined) {
      nodeKubeconfigPath = join(dataDir, "admin-node.kubeconfig");
      writeFileSync(nodeKubeconfigPath, renderKubeconfig(nodeServer, creds.ca, admin), { mode: 0o600 });
    }
    const kc = new k8s.KubeConfig();
    kc.loadFromString(adminYaml);
    const core = kc.makeApiClient(k8s.CoreV1Api);

    const serverFor = (site: ClientSite): string => {
      if (site === "host") return server;
      if (nodeServer === undefined) throw new Error("startControlPlane was called without extraSANs: no address for node namespaces");
      return nodeServer;
    };
    const ensureNamespace = async (name: string): Promise<void> => {
      try {
        await core.createNamespace({ metadata: { name } });
      } catch (err) {
        if (!isConflict(err)) throw err;
      }
    };
    const tokenFor = async (namespace: string, serviceAccount: string, topts: TokenOptions = {}): Promise<string> => {
      await ensureNamespace(namespace);
      try {
        await core.createNamespacedServiceAccount(namespace, { metadata: { name: serviceAccount, namespace } });
      } catch (err) {
        if (!isConflict(err)) throw err;
      }
      const res = await core.createNamespacedServiceAccountToken(serviceAccount, namespace, {
        spec: {
          audiences: [],
          expirationSeconds: topts.expirationSeconds ?? 86_400,
          ...(topts.boundPod ? { boundObjectRef: { apiVersion: "v1", kind: "Pod", name: topts.boundPod.name, uid: topts.boundPod.uid } } : {}),
        },
      });
      const token = res.body.status?.token;
      if (!token) throw new Error(`TokenRequest for ${namespace}/${serviceAccount} returned no token`);
      return token;
    };
    const tokenKubeconfig = async (namespace: string, serviceAccount: string, topts: TokenOptions = {}): Promise<string> => {
      const token = await tokenFor(namespace, serviceAccount, topts);
      return renderKubeconfig(serverFor(topts.site ?? "host"), creds.ca, { name: `${namespace}-${serviceAccount}`, user: { token } });
    };
    let started = true;

    const cp: ControlPlane = {
      bins,
      dataDir,
      server,
      nodeServer,
      port,
      caPath: pki.caCert,
      pki,
      kubeconfigPath,
      nodeKubeconfigPath,
      kc,
      startupMs: Date.now() - t0,
      pids: () => ({ etcd: livePid(procs.etcd), apiServer: livePid(procs.apiserver) }),
      etcdUrl: etcd.url,
      compactEtcd: () => compactEtcd(etcd.url),
      serverFor,
      ensureNamespace,
      tokenFor,
      async kubeconfigFor(namespace, serviceAccount, topts = {}) {
        const path = join(dataDir, `${namespace}.${serviceAccount}.${topts.boundPod ? `${topts.boundPod.name}.` : ""}${topts.site ?? "host"}.kubeconfig`);
        writeFileSync(path, await tokenKubeconfig(namespace, serviceAccount, topts), { mode: 0o600 });
        return path;
      },
      async clientConfigFor(namespace, serviceAccount, topts = {}) {
        const config = new k8s.KubeConfig();
        config.loadFromString(await tokenKubeconfig(namespace, serviceAccount, topts));
        return config;
      },
      async stopApiServer() {
        if (!started || !procs.apiserver) return;
        started = false;
        await stopChild(procs.apiserver, 10_000);
      },
      async startApiServer() {
        if (started) return;
        // The old process just released the port; retry briefly if the kernel is slow to free it.
        for (let attempt = 1; ; attempt++) {
          try {
            await launch(port);
            break;
          } catch (err) {
            if (!(err instanceof StartError && err.bindRace && attempt < 20)) throw err;
            await sleep(250);
          }
        }
        started = true;
      },
      stop: stopAll,
    };
    return cp;
  } catch (err) {
    await stopAll();
    throw err;
  }
}
