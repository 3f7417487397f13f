// The finalizer gate's API calls (ADR 0024): whether the finalizer policy
// exists, the dry-run probe, and the annotation that opens the gate. The same
// shape as the operator's FinalizerGatePort, less isOpen (src/kube may not import
// src/operator; operator.ts assigns one to the other). I/O.
import {
  ANNOTATION_FINALIZER_POLICY,
  FINALIZER,
  FINALIZER_POLICY_NAME,
  FINALIZER_POLICY_OPEN,
  GROUP,
  KIND,
  LABEL_PROBE,
  PLURAL,
  PROBE_FINALIZER_POLICY,
  VERSION,
} from "../api/index.js";
import { errorStatus, k8s, type KubeClients } from "./client.js";

const MERGE_HEADERS = { headers: { "Content-Type": k8s.PatchUtils.PATCH_FORMAT_JSON_MERGE_PATCH } };

/**
 * Whether `message` is the API server's refusal (503) of a create that a
 * mutating policy acts on while it lacks the kind's schema, a few seconds after
 * the CRD was created ("Resource kind keepalived-vip.io/v1alpha1,
 * Kind=VirtualIP not found. There can be a delay between when
 * CustomResourceDefinitions are created and when they are available.").
 */
export function isSchemaNotLoaded(message: string): boolean {
  return /Resource kind .+ not found\. There can be a delay/.test(message);
}

/** The gate's API calls. */
export interface KubeFinalizerGateIO {
  policyInstalled(): Promise<boolean>;
  probe(): Promise<"mutated" | "not-mutated" | "schema-not-loaded">;
  open(): Promise<void>;
}

/** The gate's calls through `clients`; the probe is created (dry run) in `planNamespace`, whose annotation opens the gate. */
export function kubeFinalizerGateIO(clients: KubeClients, planNamespace: string): KubeFinalizerGateIO {
  return {
    /** GET of the policy by name: false on 404 (or 403, or an API server without the kind). */
    async policyInstalled(): Promise<boolean> {
      try {
        await clients.custom.getClusterCustomObject("admissionregistration.k8s.io", "v1", "mutatingadmissionpolicies", FINALIZER_POLICY_NAME);
        return true;
      } catch (err) {
        const status = errorStatus(err);
        if (status === 404 || status === 403) return false;
        throw err;
      }
    },
    /** A dry-run create of a VirtualIP labelled as the probe: nothing is stored. */
    async probe(): Promise<"mutated" | "not-mutated" | "schema-not-loaded"> {
      const body = {
        apiVersion: `${GROUP}/${VERSION}`,
        kind: KIND,
        metadata: { generateName: "finalizer-policy-probe-", labels: { [LABEL_PROBE]: PROBE_FINALIZER_POLICY } },
        spec: { serviceRef: { name: "finalizer-policy-probe" } },
      };
      try {
        const res = await clients.custom.createNamespacedCustomObject(GROUP, VERSION, planNamespace, PLURAL, body, undefined, "All");
        const finalizers = (res.body as { metadata?: { finalizers?: string[] } }).metadata?.finalizers ?? [];
        return finalizers.includes(FINALIZER) ? "mutated" : "not-mutated";
      } catch (err) {
        const message = (err as { body?: { message?: unknown } }).body?.message;
        if (errorStatus(err) === 503 && typeof message === "string" && isSchemaNotLoaded(message)) return "schema-not-loaded";
        throw err;
      }
    },
    /** Merge-patches the annotation onto the plan's namespace. */
    async open(): Promise<void> {
      clients.countWrite("patch", "namespaces");
      await clients.core.patchNamespace(
        planNamespace,
        { metadata: { annotations: { [ANNOTATION_FINALIZER_POLICY]: FINALIZER_POLICY_OPEN } } },
        undefined,
        undefined,
        undefined,
        undefined,
        undefined,
        MERGE_HEADERS,
      );
    },
  };
}
