// Pods of the agent on named nodes, without a kubelet: a Node object and a
// Pod object with spec.nodeName, so that a token bound to the Pod carries the
// node's name as a real agent's does. I/O against a test control plane.
import * as k8s from "@kubernetes/client-node";
import type { ControlPlane } from "./controlplane.js";

function isConflict(err: unknown): boolean {
  return (err as { statusCode?: number }).statusCode === 409;
}

/**
 * Creates the Node (if missing) and a Pod of `serviceAccount` on it; resolves
 * a client configuration whose token is bound to that Pod.
 */
export async function podBoundClientConfig(cp: ControlPlane, opts: { namespace: string; serviceAccount: string; node: string; pod: string }): Promise<k8s.KubeConfig> {
  const core = cp.kc.makeApiClient(k8s.CoreV1Api);
  try {
    await core.createNode({ metadata: { name: opts.node } });
  } catch (err) {
    if (!isConflict(err)) throw err;
  }
  const res = await core.createNamespacedPod(opts.namespace, {
    metadata: { name: opts.pod, namespace: opts.namespace },
    spec: { nodeName: opts.node, serviceAccountName: opts.serviceAccount, automountServiceAccountToken: false, containers: [{ name: "agent", image: "agent.invalid/none" }] },
  });
  const uid = res.body.metadata?.uid;
  if (!uid) throw new Error(`Pod ${opts.namespace}/${opts.pod} has no uid`);
  return cp.clientConfigFor(opts.namespace, opts.serviceAccount, { boundPod: { name: opts.pod, uid } });
}
