// Writes and reads of the operator beyond client.ts: Service status apply,
// Secret delete and read, Event create and patch. Every write is counted. I/O.
import { GROUP, PLURAL, POOL_KIND, POOL_PLURAL, VERSION } from "../api/index.js";
import { errorStatus, k8s, type KubeClients } from "./client.js";

const APPLY_HEADERS = { headers: { "Content-Type": k8s.PatchUtils.PATCH_FORMAT_APPLY_YAML } };
const MERGE_HEADERS = { headers: { "Content-Type": k8s.PatchUtils.PATCH_FORMAT_JSON_MERGE_PATCH } };

/** Identifies a namespaced object. */
export interface ObjectRef {
  namespace: string;
  name: string;
}

/** Converts a typed client-node object back to its JSON form (Dates become RFC 3339 strings). */
export function toRaw<T>(obj: T): T {
  return JSON.parse(JSON.stringify(obj)) as T;
}

/**
 * Server-side applies a Service's status under `fieldManager` (force). With
 * `status: {}` the manager gives up its fields, which removes those only it owned.
 * Returns the Service as stored (JSON form).
 */
export async function applyServiceStatus(clients: KubeClients, ref: ObjectRef, status: Record<string, unknown>, fieldManager: string): Promise<k8s.V1Service> {
  clients.countWrite("apply", "services/status");
  const body = { apiVersion: "v1", kind: "Service", metadata: { name: ref.name, namespace: ref.namespace }, status };
  const res = await clients.core.patchNamespacedServiceStatus(
    ref.name,
    ref.namespace,
    body,
    undefined,
    undefined,
    fieldManager,
    undefined,
    true,
    APPLY_HEADERS,
  );
  return toRaw(res.body);
}

/** Deletes a Secret, only if it still has `uid`; resolves false when it was already gone. */
export async function deleteSecret(clients: KubeClients, ref: ObjectRef, uid?: string): Promise<boolean> {
  clients.countWrite("delete", "secrets");
  try {
    const body: k8s.V1DeleteOptions = uid ? { preconditions: { uid } } : {};
    await clients.core.deleteNamespacedSecret(ref.name, ref.namespace, undefined, undefined, undefined, undefined, undefined, body);
    return true;
  } catch (err) {
    if (errorStatus(err) === 404) return false;
    throw err;
  }
}

/** Reads a Secret (JSON form); undefined when it does not exist. Never log what it returns. */
export async function readSecret(clients: KubeClients, ref: ObjectRef): Promise<k8s.V1Secret | undefined> {
  try {
    const res = await clients.core.readNamespacedSecret(ref.name, ref.namespace);
    return toRaw(res.body);
  } catch (err) {
    if (errorStatus(err) === 404) return undefined;
    throw err;
  }
}

/** Creates a core/v1 Event. */
export async function createEvent(clients: KubeClients, event: k8s.CoreV1Event): Promise<k8s.CoreV1Event> {
  clients.countWrite("create", "events");
  const res = await clients.core.createNamespacedEvent(event.metadata.namespace ?? "default", event);
  return toRaw(res.body);
}

/** Merge-patches an Event (count and lastTimestamp of a repeated Event). */
export async function patchEvent(clients: KubeClients, ref: ObjectRef, patch: { count: number; lastTimestamp: string; message?: string }): Promise<void> {
  clients.countWrite("patch", "events");
  await clients.core.patchNamespacedEvent(ref.name, ref.namespace, patch, undefined, undefined, undefined, undefined, undefined, MERGE_HEADERS);
}

/** Applies the status of a VirtualIPPool (cluster-scoped) under `fieldManager`. */
export async function applyPoolStatus(
  clients: KubeClients,
  name: string,
  status: Record<string, unknown>,
  fieldManager: string,
): Promise<Record<string, unknown>> {
  clients.countWrite("apply", "virtualippools/status");
  const body = { apiVersion: `${GROUP}/${VERSION}`, kind: POOL_KIND, metadata: { name }, status };
  const res = await clients.custom.patchClusterCustomObjectStatus(GROUP, VERSION, POOL_PLURAL, name, body, undefined, fieldManager, true, APPLY_HEADERS);
  return res.body as Record<string, unknown>;
}

/** Deletes a VirtualIP, only if it still has `uid`; resolves false when it was already gone. */
export async function deleteVirtualIP(clients: KubeClients, ref: ObjectRef, uid: string): Promise<boolean> {
  clients.countWrite("delete", "virtualips");
  try {
    await clients.custom.deleteNamespacedCustomObject(GROUP, VERSION, ref.namespace, PLURAL, ref.name, undefined, undefined, undefined, undefined, {
      preconditions: { uid },
    });
    return true;
  } catch (err) {
    if (errorStatus(err) === 404 || errorStatus(err) === 409) return false;
    throw err;
  }
}
