// The operator command's flag table (name, env var, default, help) and its
// --help text, on the flag machinery both commands share (src/shared/flags.ts). Pure.
import { EXIT_STATUS_NOTE, renderCommandHelp, type FlagDef } from "../shared/flags.js";

/** Every flag of `operator`, in --help order. */
export const OPERATOR_FLAGS: readonly (FlagDef & { env: string })[] = [
  { name: "config", env: "KEEPALIVED_VIP_CONFIG", help: "YAML file with any of these settings, keyed by flag name (flags and env vars win)" },
  { name: "kubeconfig", env: "KUBECONFIG", help: "Kubeconfig file; without it: $KUBECONFIG, then ~/.kube/config, then the in-cluster ServiceAccount" },
  { name: "log-level", env: "LOG_LEVEL", default: "info", help: "Log level: error, warn, info or debug" },
  { name: "namespace", env: "POD_NAMESPACE", default: "keepalived-vip-system", help: "Namespace of the operator, its leader Lease and the agent DaemonSet" },
  {
    name: "plan-namespace",
    env: "KEEPALIVED_VIP_PLAN_NAMESPACE",
    default: "<--namespace>",
    help: "Namespace of the node and instance config Secrets and the agents' heartbeat Leases, the only one the agents can read (the shipped manifests: keepalived-vip-nodes)",
  },
  { name: "identity", env: "POD_NAME", default: "<hostname>_<pid>", help: "Leader-election identity of this replica" },
  { name: "leader-elect", env: "KEEPALIVED_VIP_LEADER_ELECT", default: "true", help: "Elect a leader through a Lease; only the leader writes (true|false)" },
  {
    name: "lease-duration",
    env: "KEEPALIVED_VIP_LEASE_DURATION",
    default: "15s",
    help: "How long others wait for an unrenewed leader Lease before taking over",
  },
  {
    name: "renew-deadline",
    env: "KEEPALIVED_VIP_RENEW_DEADLINE",
    default: "10s",
    help: "How long the leader retries renewing before it steps down (stops writing, keeps running)",
  },
  { name: "retry-period", env: "KEEPALIVED_VIP_RETRY_PERIOD", default: "2s", help: "Interval between leader-election attempts" },
  {
    name: "metrics-bind-address",
    env: "KEEPALIVED_VIP_METRICS_BIND_ADDRESS",
    default: ":8080",
    help: "Address of /metrics, /healthz and /readyz (host:port, :port, [v6]:port)",
  },
  { name: "workers", env: "KEEPALIVED_VIP_WORKERS", default: "8", help: "How many objects are written concurrently" },
  {
    name: "render-thread",
    env: "KEEPALIVED_VIP_RENDER_THREAD",
    default: "inline",
    help: "Where the plan is rendered: inline (on the main thread, a long-lived session that re-plans only what a change reaches; a full pass takes about 0.06 s for 1,000 VirtualIPs over 50 Nodes) or worker (every change planned in full, in a thread of its own; costs memory)",
  },
  {
    name: "claim-grace-period",
    env: "KEEPALIVED_VIP_CLAIM_GRACE_PERIOD",
    default: "5m",
    help: "How long a VirtualIP that became unusable (Service missing, refused) keeps its claim on its address before another may take it",
  },
  {
    name: "deletion-timeout",
    env: "KEEPALIVED_VIP_DELETION_TIMEOUT",
    default: "5m",
    help: "How long a deleted VirtualIP waits for a node whose agent is not live to confirm its address is gone; then it goes with a Warning Event naming the node (a live node that still runs the address is always waited for)",
  },
  {
    name: "load-balancer-default-class",
    env: "KEEPALIVED_VIP_LOAD_BALANCER_DEFAULT_CLASS",
    default: "false",
    help: "Also give a VirtualIP to LoadBalancer Services that name no loadBalancerClass (true|false); those naming keepalived-vip.io/vip always get one",
  },
  {
    name: "min-advert-interval",
    env: "KEEPALIVED_VIP_MIN_ADVERT_INTERVAL",
    default: "100ms",
    help: "Smallest spec.vrrp.advertisementInterval a VirtualIP may use; a shorter one is refused (Ready=False, AdvertIntervalTooShort). 10ms allows every VRRPv3 interval",
  },
  { name: "agent-image", env: "KEEPALIVED_VIP_AGENT_IMAGE", default: "localhost/keepalived-vip-operator:dev", help: "Image of the agent DaemonSet" },
  {
    name: "agent-node-selector",
    env: "KEEPALIVED_VIP_AGENT_NODE_SELECTOR",
    default: "",
    help: "Node labels the agent pods need, k=v,k2=v2 (a map in the config file)",
  },
  {
    name: "agent-tolerations",
    env: "KEEPALIVED_VIP_AGENT_TOLERATIONS",
    default: "[]",
    help: "Tolerations of the agent pods, as a JSON list (a list in the config file)",
  },
  {
    name: "agent-pod-labels",
    env: "KEEPALIVED_VIP_AGENT_POD_LABELS",
    default: "",
    help: "Extra labels of the agent pods, k=v,k2=v2 (a map in the config file); not the app.kubernetes.io/name, component or managed-by labels, which the operator sets",
  },
  {
    name: "agent-pod-annotations",
    env: "KEEPALIVED_VIP_AGENT_POD_ANNOTATIONS",
    default: "{}",
    help: "Annotations of the agent pods, as a JSON object (a map in the config file)",
  },
  {
    name: "agent-affinity",
    env: "KEEPALIVED_VIP_AGENT_AFFINITY",
    default: "{}",
    help: "Affinity of the agent pods (nodeAffinity, podAffinity, podAntiAffinity), as JSON (a map in the config file)",
  },
  {
    name: "agent-resources",
    env: "KEEPALIVED_VIP_AGENT_RESOURCES",
    default: '{"requests":{"cpu":"10m","memory":"64Mi"},"limits":{"memory":"256Mi"}}',
    help: "Resources of the agent container, as JSON",
  },
  {
    name: "agent-priority-class",
    env: "KEEPALIVED_VIP_AGENT_PRIORITY_CLASS",
    default: "system-node-critical",
    help: "priorityClassName of the agent pods (empty for none)",
  },
  {
    name: "agent-extra-args",
    env: "KEEPALIVED_VIP_AGENT_EXTRA_ARGS",
    multiple: true,
    help: "Extra argument for the agent; repeat for several (env: space-separated; config: a list)",
  },
  { name: "agent-service-account", env: "KEEPALIVED_VIP_AGENT_SERVICE_ACCOUNT", default: "keepalived-vip-agent", help: "ServiceAccount of the agent pods" },
  {
    name: "agent-log-level",
    env: "KEEPALIVED_VIP_AGENT_LOG_LEVEL",
    default: "info",
    help: "Log level of the agents (their --log-level): error, warn, info or debug",
  },
  { name: "agent-metrics-port", env: "KEEPALIVED_VIP_AGENT_METRICS_PORT", default: "9101", help: "Port of the agent's /metrics and /healthz on each node" },
];

/** The --help text of `operator` (the layout of every command's, src/shared/flags.ts). */
export function renderOperatorHelp(program: string): string {
  return renderCommandHelp({
    command: `${program} operator`,
    about: [
      "Runs the operator: watches VirtualIPs, VirtualIPPools, Namespaces, ServiceCIDRs, Services,",
      "EndpointSlices, Nodes and agent Leases; allocates addresses from the pools; writes the agent",
      "DaemonSet, the published plan (one config Secret per VRRP instance and one per Node, from",
      "which each agent assembles its keepalived.conf), the VirtualIPs of LoadBalancer Services,",
      "Service load-balancer status, VirtualIP and pool status.",
      "Precedence: flag, then env var, then config file, then default.",
    ],
    flags: OPERATOR_FLAGS,
    notes: [EXIT_STATUS_NOTE],
  });
}
