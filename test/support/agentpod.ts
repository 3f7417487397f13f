// Pods of the agent on named nodes, without a kubelet: a Pod object with
// spec.nodeName, so that a token bound to it carries the node's name as a real
// agent's does (userInfo.extra["authentication.kubernetes.io/node-name"]),
// which the agent's admission policies key on. I/O against a test control plane.
import * as k8s from "@kubernetes/client-node";
import type { ClientSite, ControlPlane } from "./controlplane.js";

/** What identifies an agent Pod on a node. */
export interface AgentPod {
  namespace: string;
  serviceAccount: string;
  node: string;
  /** Pod name; default agent-<node>. */
  pod?: string;
}

/** Creates the Pod of `serviceAccount` on `node` (the Node object should exist); resolves its name and uid. */
export async function createAgentPod(cp: ControlPlane, p: AgentPod): Promise<{ name: string; uid: string }> {
  const core = cp.kc.makeApiClient(k8s.CoreV1Api);
  const name = p.pod ?? `agent-${p.node}`;
  const res = await core.createNamespacedPod(p.namespace, {
    metadata: { name, namespace: p.namespace },
    spec: {
      nodeName: p.node,
      serviceAccountName: p.serviceAccount,
      automountServiceAccountToken: false,
      containers: [{ name: "agent", image: "agent.invalid/none" }],
    },
  });
  const uid = res.body.metadata?.uid;
  if (!uid) throw new Error(`Pod ${p.namespace}/${name} has no uid`);
  return { name, uid };
}

/** Creates the agent Pod on `node`; resolves a client configuration whose token is bound to it. */
export async function podBoundClientConfig(cp: ControlPlane, p: AgentPod): Promise<k8s.KubeConfig> {
  return cp.clientConfigFor(p.namespace, p.serviceAccount, { boundPod: await createAgentPod(cp, p) });
}

/** Creates the agent Pod on `node`; resolves the path of a kubeconfig whose token is bound to it. */
export async function podBoundKubeconfig(cp: ControlPlane, p: AgentPod & { site?: ClientSite }): Promise<string> {
  return cp.kubeconfigFor(p.namespace, p.serviceAccount, { boundPod: await createAgentPod(cp, p), ...(p.site ? { site: p.site } : {}) });
}
