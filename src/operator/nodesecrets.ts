// The per-node config Secrets: build one from a NodePlan, decide whether the
// live one needs an apply, and which stale ones to delete. Pure.
import type { V1Secret } from "@kubernetes/client-node";
import {
  ANNOTATION_CONFIG_HASH,
  ANNOTATION_NODE,
  COMPONENT_NODE_CONFIG,
  LABEL_COMPONENT,
  LABEL_MANAGED_BY,
  LABEL_NAME,
  MANAGED_BY_VALUE,
  NAME_VALUE,
  SECRET_KEY_CONFIG,
  SECRET_KEY_INSTANCES,
  nodeConfigSecretName,
} from "../api/index.js";
import type { NodePlan } from "../render/index.js";
import type { RawObject } from "../kube/watch.js";
import { digestValue } from "./cache.js";
import { isSubset } from "./diff.js";

/** Label selector of the node-config Secrets (what the operator watches). */
export const NODE_CONFIG_SELECTOR = `${LABEL_COMPONENT}=${COMPONENT_NODE_CONFIG}`;

/** The Node a Secret belongs to. */
export interface NodeIdentity {
  name: string;
  uid: string;
}

/** Labels of every node-config Secret. */
export function nodeConfigLabels(): Record<string, string> {
  return { [LABEL_NAME]: NAME_VALUE, [LABEL_COMPONENT]: COMPONENT_NODE_CONFIG, [LABEL_MANAGED_BY]: MANAGED_BY_VALUE };
}

/**
 * Builds the Secret that carries `plan` for its Node: keepalived.conf and
 * instances.json, the Node and config hash as annotations, and a
 * non-controlling owner reference to the Node.
 */
export function buildNodeConfigSecret(opts: { namespace: string; node: NodeIdentity; plan: NodePlan }): V1Secret {
  const { node, plan } = opts;
  return {
    apiVersion: "v1",
    kind: "Secret",
    type: "Opaque",
    metadata: {
      name: nodeConfigSecretName(node.name),
      namespace: opts.namespace,
      labels: nodeConfigLabels(),
      annotations: { [ANNOTATION_NODE]: node.name, [ANNOTATION_CONFIG_HASH]: plan.hash },
      ownerReferences: [{ apiVersion: "v1", kind: "Node", name: node.name, uid: node.uid, controller: false, blockOwnerDeletion: false }],
    },
    data: {
      [SECRET_KEY_CONFIG]: Buffer.from(plan.config, "utf8").toString("base64"),
      [SECRET_KEY_INSTANCES]: Buffer.from(JSON.stringify(plan.instances), "utf8").toString("base64"),
    },
  };
}

/** Digests of a desired Secret's data values, as the cache keeps the live ones. */
export function dataDigests(secret: V1Secret): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(secret.data ?? {})) out[k] = digestValue(v);
  return out;
}

/**
 * Whether the live Secret (from the cache: data values are digests) differs
 * from the desired one in anything the operator sets. `digests` are the
 * desired data's digests (see {@link dataDigests}).
 */
export function nodeSecretNeedsApply(desired: V1Secret, live: RawObject | undefined, digests: Record<string, string> = dataDigests(desired)): boolean {
  if (!live) return true;
  const liveData = (live.data ?? {}) as Record<string, string>;
  for (const [k, v] of Object.entries(digests)) if (liveData[k] !== v) return true;
  const meta = live.metadata ?? {};
  return (
    !isSubset(desired.metadata?.annotations, meta.annotations) ||
    !isSubset(desired.metadata?.labels, meta.labels) ||
    !isSubset(desired.metadata?.ownerReferences, meta.ownerReferences)
  );
}

/** A node-config Secret to delete (its Node is gone); the uid guards against deleting a newer one. */
export interface SecretDeletion {
  name: string;
  uid?: string;
}

/**
 * Node-config Secrets that no current Node needs: their name is not the
 * Secret name of any Node in `nodes`.
 */
export function planStaleNodeSecrets(nodes: readonly string[], live: readonly RawObject[]): SecretDeletion[] {
  const wanted = new Set(nodes.map((n) => nodeConfigSecretName(n)));
  return live
    .filter((s) => s.metadata?.labels?.[LABEL_MANAGED_BY] === MANAGED_BY_VALUE && !wanted.has(s.metadata?.name ?? ""))
    .map((s) => ({ name: s.metadata?.name ?? "", ...(s.metadata?.uid ? { uid: s.metadata.uid } : {}) }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
