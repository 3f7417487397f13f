// The operator's writes over the real API clients: the implementation of the
// reconciler's ClusterWriter port (src/operator/writer.ts), Events aside. I/O.
import { OPERATOR_FIELD_MANAGER, agentFieldManager } from "../api/index.js";
import { applyObject, applyVirtualIPStatus, patchVirtualIPMetadata, type k8s, type KubeClients } from "./client.js";
import { applyPoolStatus, applyServiceStatus, deleteSecret, deleteVirtualIP, readSecret, toRaw, type ObjectRef } from "./objects.js";
import type { RawObject } from "./transport.js";

/**
 * The API writes of the operator, each resolving to the object as stored (JSON
 * form). The same shape as the operator's ClusterWriter (src/kube may not import
 * src/operator): operator.ts assigns one to the other, so the compiler checks they agree.
 */
export interface KubeClusterWriter {
  applySecret(secret: k8s.V1Secret): Promise<RawObject>;
  deleteSecret(ref: ObjectRef, uid: string | undefined): Promise<void>;
  applyVirtualIPStatus(ref: ObjectRef, status: Record<string, unknown>): Promise<RawObject>;
  applyNodeEntry(ref: ObjectRef & { resourceVersion: string }, node: string, status: Record<string, unknown>): Promise<RawObject>;
  patchFinalizers(ref: ObjectRef, finalizers: string[], resourceVersion: string | undefined): Promise<RawObject>;
  applyServiceStatus(ref: ObjectRef, status: Record<string, unknown>): Promise<RawObject>;
  applyVirtualIP(obj: RawObject): Promise<RawObject>;
  deleteVirtualIP(ref: ObjectRef, uid: string): Promise<void>;
  applyPoolStatus(name: string, status: Record<string, unknown>): Promise<RawObject>;
  applyDaemonSet(ds: k8s.V1DaemonSet): Promise<RawObject>;
  readSecret(ref: ObjectRef): Promise<k8s.V1Secret | undefined>;
}

/** The operator's writes (under its field manager, or a node's for node entries) through `clients`. */
export function kubeClusterWriter(clients: KubeClients, fieldManager = OPERATOR_FIELD_MANAGER): KubeClusterWriter {
  const apply = async <T extends k8s.KubernetesObject>(obj: T): Promise<RawObject> =>
    toRaw(await applyObject(clients, obj, { fieldManager })) as unknown as RawObject;
  return {
    applySecret: apply,
    applyDaemonSet: apply,
    applyVirtualIP: (obj) => apply(obj as k8s.KubernetesObject),
    async deleteSecret(ref, uid) {
      await deleteSecret(clients, ref, uid);
    },
    async deleteVirtualIP(ref, uid) {
      await deleteVirtualIP(clients, ref, uid);
    },
    async applyVirtualIPStatus(ref, status) {
      return (await applyVirtualIPStatus(clients, ref, status, { fieldManager })) as RawObject;
    },
    async applyNodeEntry(ref, node, status) {
      // Only onto the version the decision read: a report that arrived meanwhile is never overwritten (409).
      return (await applyVirtualIPStatus(clients, ref, status, { fieldManager: agentFieldManager(node) })) as RawObject;
    },
    async patchFinalizers(ref, finalizers, resourceVersion) {
      return (await patchVirtualIPMetadata(clients, ref, { finalizers, resourceVersion })) as RawObject;
    },
    async applyServiceStatus(ref, status) {
      return (await applyServiceStatus(clients, ref, status, fieldManager)) as RawObject;
    },
    async applyPoolStatus(name, status) {
      return await applyPoolStatus(clients, name, status, fieldManager);
    },
    readSecret: (ref) => readSecret(clients, ref),
  };
}
