// The published plan as Secrets: one per node (node.json: the node's own
// values) and one per VRRP instance (instance.json: what its nodes share).
// Build them from a plan, decide whether a live one needs an apply, and which
// stale ones to delete. Pure.
import type { V1Secret } from "@kubernetes/client-node";
import {
  ANNOTATION_CONFIG_HASH,
  ANNOTATION_INSTANCE,
  ANNOTATION_NODE,
  COMPONENT_INSTANCE_CONFIG,
  COMPONENT_NODE_CONFIG,
  LABEL_COMPONENT,
  LABEL_MANAGED_BY,
  LABEL_NAME,
  MANAGED_BY_VALUE,
  NAME_VALUE,
  SECRET_KEY_INSTANCE,
  SECRET_KEY_NODE,
  instanceSecretName,
  nodeConfigSecretName,
} from "../api/index.js";
import type { InstancePlan, NodePlan } from "../render/index.js";
import type { RawObject } from "../kube/watch.js";
import { digestValue } from "./cache.js";
import { isSubset } from "./diff.js";

/** Label selector of the Secrets the operator writes and watches (node and instance configs). */
export const CONFIG_SECRETS_SELECTOR = `${LABEL_COMPONENT} in (${COMPONENT_NODE_CONFIG},${COMPONENT_INSTANCE_CONFIG})`;

/** The Node a Secret belongs to. */
export interface NodeIdentity {
  name: string;
  uid: string;
}

/** Labels of every config Secret of one component (node or instance config). */
function configLabels(component: string): Record<string, string> {
  return { [LABEL_NAME]: NAME_VALUE, [LABEL_COMPONENT]: component, [LABEL_MANAGED_BY]: MANAGED_BY_VALUE };
}

/**
 * Builds the Secret that carries what is `node`'s own in its keepalived.conf
 * (node.json), the Node and the JSON's hash as annotations, and a
 * non-controlling owner reference to the Node, so that it goes with the Node.
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
      labels: configLabels(COMPONENT_NODE_CONFIG),
      annotations: { [ANNOTATION_NODE]: node.name, [ANNOTATION_CONFIG_HASH]: plan.hash },
      ownerReferences: [{ apiVersion: "v1", kind: "Node", name: node.name, uid: node.uid, controller: false, blockOwnerDeletion: false }],
    },
    data: { [SECRET_KEY_NODE]: Buffer.from(plan.json, "utf8").toString("base64") },
  };
}

/**
 * Builds the Secret that carries the shared part of one VRRP instance
 * (instance.json; a Secret because it may hold a VRRPv2 password), with the
 * instance name and the JSON's hash as annotations.
 */
export function buildInstanceSecret(opts: { namespace: string; plan: InstancePlan }): V1Secret {
  const { plan } = opts;
  return {
    apiVersion: "v1",
    kind: "Secret",
    type: "Opaque",
    metadata: {
      name: instanceSecretName(plan.name),
      namespace: opts.namespace,
      labels: configLabels(COMPONENT_INSTANCE_CONFIG),
      annotations: { [ANNOTATION_INSTANCE]: plan.name, [ANNOTATION_CONFIG_HASH]: plan.hash },
    },
    data: { [SECRET_KEY_INSTANCE]: Buffer.from(plan.json, "utf8").toString("base64") },
  };
}

/** Digests of a desired Secret's data values, as the cache keeps the live ones. */
export function dataDigests(secret: V1Secret): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(secret.data ?? {})) out[k] = digestValue(v);
  return out;
}

/**
 * Whether a live node or instance Secret (from the cache: data values are digests) differs
 * from the desired one in anything the operator sets. `digests` are the
 * desired data's digests (see {@link dataDigests}).
 */
export function configSecretNeedsApply(desired: V1Secret, live: RawObject | undefined, digests: Record<string, string> = dataDigests(desired)): boolean {
  if (!live) return true;
  const liveData = (live.data ?? {}) as Record<string, string>;
  for (const [k, v] of Object.entries(digests)) if (liveData[k] !== v) return true;
  // A key left over from an older layout: an apply drops it (the operator owns every key).
  for (const k of Object.keys(liveData)) if (!(k in digests)) return true;
  const meta = live.metadata ?? {};
  return (
    !isSubset(desired.metadata?.annotations, meta.annotations) ||
    !isSubset(desired.metadata?.labels, meta.labels) ||
    !isSubset(desired.metadata?.ownerReferences, meta.ownerReferences)
  );
}

/** A config Secret to delete; the uid guards against deleting a newer one. */
export interface SecretDeletion {
  name: string;
  uid?: string;
}

/**
 * Config Secrets the plan no longer needs: managed by the operator, of one of
 * the two config components, and not in `wanted` (the names of the desired
 * node and instance Secrets).
 */
export function planStaleConfigSecrets(wanted: ReadonlySet<string>, live: readonly RawObject[]): SecretDeletion[] {
  const components = new Set([COMPONENT_NODE_CONFIG, COMPONENT_INSTANCE_CONFIG]);
  return live
    .filter((s) => {
      const labels = s.metadata?.labels ?? {};
      return labels[LABEL_MANAGED_BY] === MANAGED_BY_VALUE && components.has(labels[LABEL_COMPONENT] ?? "") && !wanted.has(s.metadata?.name ?? "");
    })
    .map((s) => ({ name: s.metadata?.name ?? "", ...(s.metadata?.uid ? { uid: s.metadata.uid } : {}) }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
