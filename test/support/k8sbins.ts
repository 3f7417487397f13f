// Locates (building on first use) kube-apiserver, etcd, kubectl and helm
// through hack/k8s-bins.sh. Does I/O.
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { runCommand } from "./process.js";

/** Root of the repository. */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** Paths of the four binaries. */
export interface K8sBins {
  dir: string;
  kubeApiserver: string;
  etcd: string;
  kubectl: string;
  helm: string;
}

let cached: Promise<K8sBins> | undefined;

async function locate(): Promise<K8sBins> {
  const script = join(REPO_ROOT, "hack/k8s-bins.sh");
  const res = await runCommand(script, [], { cwd: REPO_ROOT, check: false });
  const lines = res.stdout.trim().split("\n");
  const dir = lines[lines.length - 1]?.trim() ?? "";
  if (res.code !== 0 || dir === "") {
    throw new Error(`hack/k8s-bins.sh failed (exit ${res.code ?? res.signal}):\n${res.stderr}${res.stdout}`);
  }
  const bins: K8sBins = {
    dir,
    kubeApiserver: join(dir, "kube-apiserver"),
    etcd: join(dir, "etcd"),
    kubectl: join(dir, "kubectl"),
    helm: join(dir, "helm"),
  };
  for (const p of [bins.kubeApiserver, bins.etcd, bins.kubectl, bins.helm]) {
    if (!existsSync(p)) throw new Error(`hack/k8s-bins.sh named ${dir}, but ${p} is missing:\n${res.stderr}`);
  }
  return bins;
}

/**
 * The directory and paths of the Kubernetes binaries. Honours
 * KUBEBUILDER_ASSETS; otherwise builds into the cache when missing (a cold
 * build takes many minutes). Fails with the script's output when it fails.
 * The result is cached for the life of the process.
 */
export function resolveK8sBins(): Promise<K8sBins> {
  cached ??= locate().catch((err: unknown) => {
    cached = undefined;
    throw err;
  });
  return cached;
}
