// kubectl against a test control plane (the built kubectl, admin kubeconfig
// unless told otherwise), manifest apply and CRD readiness. Does I/O.
import * as k8s from "@kubernetes/client-node";
import type { ControlPlane } from "./controlplane.js";
import { runCommand, sleep, type CommandResult } from "./process.js";
import { join } from "node:path";
import { REPO_ROOT } from "./k8sbins.js";
import { testPoolObject } from "./pools.js";

/** Options of {@link kubectl}. */
export interface KubectlOptions {
  /** Kubeconfig to use (default: the admin kubeconfig for the host). */
  kubeconfig?: string;
  /** Written to stdin (for `-f -`). */
  input?: string;
  /** Throw when kubectl does not exit 0 (default true). */
  check?: boolean;
  /** Kill kubectl after this long (default 60 s). */
  timeoutMs?: number;
}

/** Runs the built kubectl against `cp`; resolves its exit code and output. */
export function kubectl(cp: ControlPlane, args: readonly string[], opts: KubectlOptions = {}): Promise<CommandResult> {
  const kubeconfig = opts.kubeconfig ?? cp.kubeconfigPath;
  return runCommand(cp.bins.kubectl, [`--kubeconfig=${kubeconfig}`, ...args], {
    input: opts.input,
    check: opts.check ?? true,
    timeoutMs: opts.timeoutMs ?? 60_000,
    // No user kubeconfig or cache may leak in.
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: cp.dataDir, KUBECACHEDIR: `${cp.dataDir}/kubectl-cache` },
  });
}

/** Options of {@link applyManifests}. */
export interface ApplyOptions {
  /** Server-side apply (default true; large CRDs do not fit the client-side annotation). */
  serverSide?: boolean;
  kubeconfig?: string;
}

/** `kubectl apply` of manifest files (or directories); throws with kubectl's output on failure. */
export async function applyManifests(cp: ControlPlane, files: readonly string[], opts: ApplyOptions = {}): Promise<CommandResult> {
  const serverSide = opts.serverSide ?? true;
  const args = [
    "apply",
    ...(serverSide ? ["--server-side", "--field-manager=keepalived-vip-tests", "--force-conflicts"] : []),
    ...files.flatMap((f) => ["-f", f]),
  ];
  return kubectl(cp, args, { kubeconfig: opts.kubeconfig });
}

/**
 * Waits until every named CRD is Established and each of its served
 * versions can be listed (default 30 s). An Established resource may still
 * answer 429 until its watch cache is initialised; clients without
 * client-go's retry (such as @kubernetes/client-node) would see that.
 */
export async function waitForCRDs(cp: ControlPlane, names: readonly string[], timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  await kubectl(cp, ["wait", "--for=condition=Established", `--timeout=${Math.ceil(timeoutMs / 1000)}s`, ...names.map((n) => `crd/${n}`)], {
    timeoutMs: timeoutMs + 10_000,
  });
  const ext = cp.kc.makeApiClient(k8s.ApiextensionsV1Api);
  const custom = cp.kc.makeApiClient(k8s.CustomObjectsApi);
  for (const name of names) {
    const crd = (await ext.readCustomResourceDefinition(name)).body;
    for (const v of crd.spec.versions.filter((ver) => ver.served)) {
      for (;;) {
        const status = await custom.listClusterCustomObject(crd.spec.group, v.name, crd.spec.names.plural).then(
          (r) => r.response.statusCode,
          (e: unknown) => (e as { statusCode?: number }).statusCode,
        );
        if (status === 200) break;
        if (Date.now() > deadline) throw new Error(`${name} ${v.name}: list answers ${status ?? "nothing"} after ${timeoutMs} ms`);
        await sleep(100);
      }
    }
  }
}

/** Applies CRD manifests and waits until every CRD in them is Established; returns the CRD names. */
export async function installCRDs(cp: ControlPlane, files: readonly string[], timeoutMs = 30_000): Promise<string[]> {
  const res = await kubectl(cp, [
    "apply",
    "--server-side",
    "--field-manager=keepalived-vip-tests",
    "--force-conflicts",
    "-o",
    "name",
    ...files.flatMap((f) => ["-f", f]),
  ]);
  const names = res.stdout
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.startsWith("customresourcedefinition.apiextensions.k8s.io/"))
    .map((l) => l.slice(l.indexOf("/") + 1));
  if (names.length === 0) throw new Error(`no CustomResourceDefinition in ${files.join(", ")}`);
  await waitForCRDs(cp, names, timeoutMs);
  return names;
}

/** The project's CRDs (VirtualIP, VirtualIPPool) as generated into crds/. */
export const PROJECT_CRD_FILES: readonly string[] = [
  join(REPO_ROOT, "crds/keepalived-vip.io_virtualips.yaml"),
  join(REPO_ROOT, "crds/keepalived-vip.io_virtualippools.yaml"),
];

/**
 * Installs the project's CRDs and, unless `pool` is false, the permissive test
 * VirtualIPPool (test/support/pools.ts), so that the documentation addresses
 * the tests use are allowed.
 */
export async function installProjectCRDs(cp: ControlPlane, opts: { pool?: boolean } = {}): Promise<void> {
  await installCRDs(cp, PROJECT_CRD_FILES);
  if (opts.pool === false) return;
  const { metadata, ...rest } = testPoolObject();
  const { creationTimestamp: _c, ...meta } = metadata as Record<string, unknown>;
  await kubectl(cp, ["apply", "--server-side", "--field-manager=keepalived-vip-tests", "-f", "-"], { input: JSON.stringify({ ...rest, metadata: meta }) });
}
