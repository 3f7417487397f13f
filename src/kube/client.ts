// The only runtime door to the Kubernetes API: kubeconfig loading, typed API
// clients, server-side apply, and a write counter. Client-library quirks live here.
import http from "node:http";
import https from "node:https";
import * as k8s from "@kubernetes/client-node";
import { GROUP, PLURAL, VERSION } from "../api/index.js";

/** Called once per write request (create, patch, apply, delete) with a short verb and resource name. */
export type WriteObserver = (verb: string, resource: string) => void;

export interface KubeClientOptions {
  /** Path of a kubeconfig file; else KUBECONFIG, ~/.kube/config, or in-cluster. */
  kubeconfig?: string;
  /** Sees every write request, for the writes metric. */
  onWrite?: WriteObserver;
}

/** Typed API clients sharing one KubeConfig. */
export interface KubeClients {
  kc: k8s.KubeConfig;
  core: k8s.CoreV1Api;
  apps: k8s.AppsV1Api;
  coordination: k8s.CoordinationV1Api;
  discovery: k8s.DiscoveryV1Api;
  custom: k8s.CustomObjectsApi;
  objects: k8s.KubernetesObjectApi;
  /** Notes one write request (used by the apply helpers below and by callers' own writes). */
  countWrite: WriteObserver;
}

/** Loads the kubeconfig: explicit path, else the usual places (KUBECONFIG, ~/.kube/config, in-cluster). */
export function loadKubeConfig(path?: string): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  if (!kc.getCurrentCluster()) {
    throw new Error("no Kubernetes cluster configured: pass --kubeconfig, set KUBECONFIG, or run in a pod");
  }
  return kc;
}

/**
 * How long an idle connection to the API server stays open for the next
 * request: well below the API server's own idle timeout (90 s), so that a
 * request never goes out on a connection the server is closing.
 */
export const IDLE_CONNECTION_MS = 30_000;

/**
 * Makes `api` send its requests through `agent`, which keeps connections open
 * between requests. client-node's `request` library otherwise gives each
 * request a connection of its own: a full TLS handshake on both sides for
 * every write and every Lease renewal, which at 10,000 VirtualIPs was a tenth
 * of the API server's CPU time. The agent pools connections by CA and client
 * certificate, which `request` passes with each request.
 */
function throughAgent<T extends { addInterceptor(i: k8s.Interceptor): void }>(api: T, agent: http.Agent): T {
  api.addInterceptor((opts) => {
    // The kubeconfig's tls-server-name reaches `request` as an option of the agent it would make.
    const servername = (opts.agentOptions as { servername?: string } | undefined)?.servername;
    Object.assign(opts, { agent }, servername !== undefined ? { servername } : {});
  });
  return api;
}

/** Creates the API clients (on connections kept open between requests). */
export function createKubeClients(opts: KubeClientOptions = {}): KubeClients {
  const kc = loadKubeConfig(opts.kubeconfig);
  const keep = { keepAlive: true, timeout: IDLE_CONNECTION_MS };
  const agent = kc.getCurrentCluster()?.server.startsWith("http:") ? new http.Agent(keep) : new https.Agent(keep);
  return {
    kc,
    core: throughAgent(kc.makeApiClient(k8s.CoreV1Api), agent),
    apps: throughAgent(kc.makeApiClient(k8s.AppsV1Api), agent),
    coordination: throughAgent(kc.makeApiClient(k8s.CoordinationV1Api), agent),
    discovery: throughAgent(kc.makeApiClient(k8s.DiscoveryV1Api), agent),
    custom: throughAgent(kc.makeApiClient(k8s.CustomObjectsApi), agent),
    objects: throughAgent(k8s.KubernetesObjectApi.makeApiClient(kc), agent),
    countWrite: opts.onWrite ?? (() => undefined),
  };
}

const APPLY_HEADERS = { headers: { "Content-Type": k8s.PatchUtils.PATCH_FORMAT_APPLY_YAML } };
const MERGE_HEADERS = { headers: { "Content-Type": k8s.PatchUtils.PATCH_FORMAT_JSON_MERGE_PATCH } };

/** Options of a server-side apply. */
export interface ApplyOptions {
  fieldManager: string;
  /** Take ownership of conflicting fields (controllers usually do). Default true. */
  force?: boolean;
}

/**
 * The `resource` label of kube_writes_total for a kind: the lower-case plural
 * the API path uses ("Secret" -> "secrets", "DaemonSet" -> "daemonsets"), as
 * every other write is counted.
 */
export function resourceOf(kind: string | undefined): string {
  if (!kind) return "unknown";
  const lower = kind.toLowerCase();
  if (lower.endsWith("s")) return `${lower}es`;
  if (lower.endsWith("y")) return `${lower.slice(0, -1)}ies`;
  return `${lower}s`;
}

/**
 * Server-side applies a whole object (apiVersion, kind, metadata.name[, namespace] required).
 * Returns the object as stored.
 */
export async function applyObject<T extends k8s.KubernetesObject>(clients: KubeClients, obj: T, opts: ApplyOptions): Promise<T> {
  clients.countWrite("apply", resourceOf(obj.kind));
  const res = await clients.objects.patch(obj, undefined, undefined, opts.fieldManager, opts.force ?? true, APPLY_HEADERS);
  return res.body;
}

/** Identifies one VirtualIP; with a resourceVersion, a write applies only to that version (HTTP 409 otherwise). */
export interface VirtualIPRef {
  namespace: string;
  name: string;
  resourceVersion?: string;
}

/**
 * Server-side applies part of a VirtualIP's status under `fieldManager`.
 * `status` holds only the fields this manager owns (others' fields are untouched).
 */
export async function applyVirtualIPStatus(clients: KubeClients, ref: VirtualIPRef, status: Record<string, unknown>, opts: ApplyOptions): Promise<unknown> {
  clients.countWrite("apply", "virtualips/status");
  const metadata = { name: ref.name, namespace: ref.namespace, ...(ref.resourceVersion !== undefined ? { resourceVersion: ref.resourceVersion } : {}) };
  const body = { apiVersion: `${GROUP}/${VERSION}`, kind: "VirtualIP", metadata, status };
  const res = await clients.custom.patchNamespacedCustomObjectStatus(
    GROUP,
    VERSION,
    ref.namespace,
    PLURAL,
    ref.name,
    body,
    undefined,
    opts.fieldManager,
    opts.force ?? true,
    APPLY_HEADERS,
  );
  return res.body;
}

/** JSON-merge-patches a VirtualIP's metadata (finalizers). */
export async function patchVirtualIPMetadata(clients: KubeClients, ref: VirtualIPRef, metadata: Record<string, unknown>): Promise<unknown> {
  clients.countWrite("patch", "virtualips");
  const res = await clients.custom.patchNamespacedCustomObject(
    GROUP,
    VERSION,
    ref.namespace,
    PLURAL,
    ref.name,
    { metadata },
    undefined,
    undefined,
    undefined,
    MERGE_HEADERS,
  );
  return res.body;
}

/** HTTP status of a client-node error, if it carries one. */
export function errorStatus(err: unknown): number | undefined {
  const e = err as { statusCode?: unknown; response?: { statusCode?: unknown }; body?: { code?: unknown } } | null;
  const candidates = [e?.statusCode, e?.response?.statusCode, e?.body?.code];
  for (const c of candidates) if (typeof c === "number") return c;
  return undefined;
}

/** A one-line description of a client-node error, without request bodies (which may carry secrets). */
export function describeError(err: unknown): string {
  const status = errorStatus(err);
  const body = (err as { body?: { message?: unknown } } | null)?.body;
  const msg = typeof body?.message === "string" ? body.message : err instanceof Error ? err.message : String(err);
  return status ? `HTTP ${status}: ${msg}` : msg;
}

export { k8s };
