// The keepalived agent DaemonSet the operator owns, built from its settings,
// and the check whether the live one needs an apply. Pure.
import { sha256Hex } from "../shared/hash.js";
import type { V1DaemonSet } from "@kubernetes/client-node";
import {
  COMPONENT_AGENT,
  DAEMONSET_NAME,
  DEFAULT_RUNTIME_DIR,
  GROUP,
  LABEL_COMPONENT,
  LABEL_MANAGED_BY,
  LABEL_NAME,
  MANAGED_BY_VALUE,
  NAME_VALUE,
} from "../api/index.js";
import type { AgentPodSettings } from "./options.js";
import { isSubset } from "./diff.js";

/** Annotation on the DaemonSet: sha256 of the spec the operator applied, to see a change of settings. */
export const ANNOTATION_SPEC_HASH = `${GROUP}/spec-hash`;

/** Seconds between SIGTERM and SIGKILL of an agent pod: keepalived sends its priority-0 adverts and drops the addresses. */
export const AGENT_TERMINATION_GRACE_SECONDS = 30;

/** Labels of the agent pods (also the DaemonSet's selector, which is immutable). */
export function agentSelectorLabels(): Record<string, string> {
  return { [LABEL_NAME]: NAME_VALUE, [LABEL_COMPONENT]: COMPONENT_AGENT };
}

/**
 * The agent container's arguments: the subcommand, the flags the operator sets
 * (the plan's namespace when it is not the pods' own, ADR 0010), then the extra ones.
 */
export function agentArgs(agent: AgentPodSettings, planNamespace?: string): string[] {
  return [
    "agent",
    `--metrics-bind-address=:${agent.metricsPort}`,
    `--log-level=${agent.logLevel}`,
    ...(planNamespace ? [`--namespace=${planNamespace}`] : []),
    ...agent.extraArgs,
  ];
}

function podSpec(agent: AgentPodSettings, planNamespace?: string): NonNullable<NonNullable<V1DaemonSet["spec"]>["template"]["spec"]> {
  const fieldEnv = (name: string, fieldPath: string): { name: string; valueFrom: { fieldRef: { apiVersion: string; fieldPath: string } } } => ({
    name,
    valueFrom: { fieldRef: { apiVersion: "v1", fieldPath } },
  });
  return {
    hostNetwork: true,
    dnsPolicy: "ClusterFirstWithHostNet",
    serviceAccountName: agent.serviceAccountName,
    terminationGracePeriodSeconds: AGENT_TERMINATION_GRACE_SECONDS,
    ...(agent.priorityClassName ? { priorityClassName: agent.priorityClassName } : {}),
    nodeSelector: { "kubernetes.io/os": "linux", ...agent.nodeSelector },
    ...(agent.tolerations.length > 0 ? { tolerations: agent.tolerations.map((t) => ({ ...t })) } : {}),
    ...(agent.affinity ? { affinity: structuredClone(agent.affinity) } : {}),
    containers: [
      {
        name: "agent",
        image: agent.image,
        imagePullPolicy: "IfNotPresent",
        args: agentArgs(agent, planNamespace),
        env: [
          fieldEnv("NODE_NAME", "spec.nodeName"),
          fieldEnv("POD_NAMESPACE", "metadata.namespace"),
          fieldEnv("POD_NAME", "metadata.name"),
          fieldEnv("HOST_IP", "status.hostIP"),
        ],
        ports: [{ name: "metrics", containerPort: agent.metricsPort, protocol: "TCP" }],
        livenessProbe: { httpGet: { path: "/healthz", port: "metrics" }, initialDelaySeconds: 10, periodSeconds: 10, timeoutSeconds: 3, failureThreshold: 3 },
        readinessProbe: { httpGet: { path: "/readyz", port: "metrics" }, periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 3 },
        securityContext: {
          // keepalived needs root for VRRP sockets and addresses, with these capabilities only;
          // SYS_NICE lets its VRRP process raise its own priority (vrrp_priority in global_defs).
          runAsUser: 0,
          runAsGroup: 0,
          runAsNonRoot: false,
          privileged: false,
          allowPrivilegeEscalation: false,
          capabilities: { drop: ["ALL"], add: ["NET_ADMIN", "NET_RAW", "NET_BROADCAST", "SYS_NICE"] },
          seccompProfile: { type: "RuntimeDefault" },
        },
        resources: {
          ...(agent.resources.requests ? { requests: { ...agent.resources.requests } } : {}),
          ...(agent.resources.limits ? { limits: { ...agent.resources.limits } } : {}),
        },
        volumeMounts: [{ name: "runtime", mountPath: DEFAULT_RUNTIME_DIR }],
      },
    ],
    volumes: [{ name: "runtime", emptyDir: {} }],
  };
}

/** Builds the agent DaemonSet (same settings, same object and hash). */
export function buildAgentDaemonSet(opts: { namespace: string; agent: AgentPodSettings; planNamespace?: string }): V1DaemonSet {
  const planNamespace = opts.planNamespace !== undefined && opts.planNamespace !== opts.namespace ? opts.planNamespace : undefined;
  const labels = { ...agentSelectorLabels(), [LABEL_MANAGED_BY]: MANAGED_BY_VALUE };
  const spec: NonNullable<V1DaemonSet["spec"]> = {
    selector: { matchLabels: agentSelectorLabels() },
    updateStrategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 1 } },
    template: {
      metadata: {
        // The user's pod labels first: the operator's own always win.
        labels: { ...opts.agent.podLabels, ...labels },
        ...(Object.keys(opts.agent.podAnnotations).length > 0 ? { annotations: { ...opts.agent.podAnnotations } } : {}),
      },
      spec: podSpec(opts.agent, planNamespace),
    },
  };
  return {
    apiVersion: "apps/v1",
    kind: "DaemonSet",
    metadata: { name: DAEMONSET_NAME, namespace: opts.namespace, labels, annotations: { [ANNOTATION_SPEC_HASH]: sha256Hex(JSON.stringify(spec)) } },
    spec,
  };
}

/**
 * Whether the live DaemonSet differs from the desired one: missing, another
 * spec hash (settings changed), or a desired field changed by hand.
 */
export function daemonSetNeedsApply(desired: V1DaemonSet, live: V1DaemonSet | undefined): boolean {
  if (!live) return true;
  const want = desired.metadata?.annotations?.[ANNOTATION_SPEC_HASH];
  if (live.metadata?.annotations?.[ANNOTATION_SPEC_HASH] !== want) return true;
  // Resource quantities are left out: the API server may rewrite them ("0.5" -> "500m").
  const strip = (ds: V1DaemonSet): unknown => ({
    ...ds.spec,
    template: {
      ...ds.spec?.template,
      spec: { ...ds.spec?.template.spec, containers: ds.spec?.template.spec?.containers.map((c) => ({ ...c, resources: undefined })) },
    },
  });
  return !isSubset(strip(desired), strip(live)) || !isSubset(desired.metadata?.labels, live.metadata?.labels);
}
