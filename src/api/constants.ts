// Names shared by every part of the system: API group, kind, labels,
// annotations, field managers, Secret keys. Pure constants, no I/O.

/** API group of the VirtualIP kind. */
export const GROUP = "keepalived-vip.io";
/** The one served and stored version. */
export const VERSION = "v1alpha1";
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = "VirtualIP";
export const LIST_KIND = "VirtualIPList";
export const PLURAL = "virtualips";
export const SINGULAR = "virtualip";
export const SHORT_NAMES = ["vip"] as const;
export const CATEGORIES = ["keepalived-vip"] as const;

/** The cluster-scoped pool kind: which addresses and router ids which namespaces may use. */
export const POOL_KIND = "VirtualIPPool";
export const POOL_LIST_KIND = "VirtualIPPoolList";
export const POOL_PLURAL = "virtualippools";
export const POOL_SINGULAR = "virtualippool";
export const POOL_SHORT_NAMES = ["vippool"] as const;

/** Annotations a LoadBalancer Service may carry to choose its VirtualIP's address, pool and router id. */
export const ANNOTATION_LB_ADDRESS = `${GROUP}/address`;
export const ANNOTATION_LB_POOL = `${GROUP}/pool`;
export const ANNOTATION_LB_ROUTER_ID = `${GROUP}/virtual-router-id`;
/** Label on a VirtualIP the operator made for a LoadBalancer Service: the Service's name. */
export const LABEL_LB_SERVICE = `${GROUP}/service`;

/** Finalizer the operator puts on every VirtualIP it manages. */
export const FINALIZER = `${GROUP}/cleanup`;

/** Name of the MutatingAdmissionPolicy (and its binding) that adds {@link FINALIZER} at creation (ADR 0022). */
export const FINALIZER_POLICY_NAME = "keepalived-vip-finalizer";
/**
 * Annotation of the plan's namespace that opens the finalizer policy (ADR 0024):
 * the policy adds the finalizer only once it says {@link FINALIZER_POLICY_OPEN},
 * which the operator writes after a dry-run create came back with the finalizer.
 */
export const ANNOTATION_FINALIZER_POLICY = `${GROUP}/finalizer-policy`;
export const FINALIZER_POLICY_OPEN = "open";
/** Label of the operator's dry-run probe VirtualIP: the finalizer policy acts on it before it is open. */
export const LABEL_PROBE = `${GROUP}/probe`;
export const PROBE_FINALIZER_POLICY = "finalizer-policy";

/** Field manager of the operator (summary status, owned objects). */
export const OPERATOR_FIELD_MANAGER = "keepalived-vip-operator";
/** Field manager of a node agent: one per node, so nodes never conflict. */
export function agentFieldManager(node: string): string {
  return `keepalived-vip-agent/${node}`;
}

/** loadBalancerClass a Service may name to be handled by this operator (or leave unset). */
export const LOAD_BALANCER_CLASS = `${GROUP}/vip`;

/** Labels on every object the operator creates. */
export const LABEL_MANAGED_BY = "app.kubernetes.io/managed-by";
export const MANAGED_BY_VALUE = "keepalived-vip-operator";
export const LABEL_COMPONENT = "app.kubernetes.io/component";
export const LABEL_NAME = "app.kubernetes.io/name";
export const NAME_VALUE = "keepalived-vip";

/** Component label values: the concept names used everywhere. */
export const COMPONENT_OPERATOR = "operator";
export const COMPONENT_AGENT = "agent";
export const COMPONENT_NODE_CONFIG = "node-config";
export const COMPONENT_INSTANCE_CONFIG = "instance-config";

/** Annotation on a node-config Secret: the Node it is for. */
export const ANNOTATION_NODE = `${GROUP}/node`;
/** Annotation on a node or instance Secret: sha256 of its JSON (node.json or instance.json). */
export const ANNOTATION_CONFIG_HASH = `${GROUP}/config-hash`;
/**
 * Annotation on an agent's heartbeat Lease (and accepted on a Node for the
 * offline renderer): the interface that carries the node's InternalIP.
 */
export const ANNOTATION_DEFAULT_INTERFACE = `${GROUP}/default-interface`;

/**
 * Annotation on an agent's heartbeat Lease: the node's own addresses
 * (comma-separated), which no VirtualIP may ever use.
 */
export const ANNOTATION_HOST_ADDRESSES = `${GROUP}/host-addresses`;

/**
 * Annotation on an agent's heartbeat Lease: the addresses its keepalived
 * config carries or that are still on an interface after leaving it, in the
 * compact form of src/shared/running-set.ts (ADR 0017). The operator lets a
 * deleted VirtualIP go only once no node lists its address.
 */
export const ANNOTATION_RUNNING_ADDRESSES = `${GROUP}/running-addresses`;
/**
 * Annotation on an agent's heartbeat Lease: the names of the node's network
 * interfaces (comma-separated, sorted; veth pairs of Pods left out). Absent
 * when the node has more than MAX_PUBLISHED_INTERFACES: the list is then
 * unknown, never partial (ADR 0016).
 */
export const ANNOTATION_INTERFACES = `${GROUP}/interfaces`;
/** Most interface names an agent publishes. */
export const MAX_PUBLISHED_INTERFACES = 256;
/** Annotation on an agent's heartbeat Lease: "true" or "false", whether the node's kernel has IPVS (ADR 0016). */
export const ANNOTATION_IPVS = `${GROUP}/ipvs`;

/** Annotation on an instance Secret: the VRRP instance it carries. */
export const ANNOTATION_INSTANCE = `${GROUP}/instance`;

/** Key of a node Secret's data: JSON of {@link PublishedNode}. */
export const SECRET_KEY_NODE = "node.json";
/** Key of an instance Secret's data: JSON of {@link PublishedInstance}. */
export const SECRET_KEY_INSTANCE = "instance.json";
/** File names the agent keeps in its runtime directory. */
export const CONFIG_FILE_NAME = "keepalived.conf";
export const INSTANCES_FILE_NAME = "instances.json";

/** Default runtime directory of the agent on a node (pid files, notify FIFO, live config). */
export const DEFAULT_RUNTIME_DIR = "/run/keepalived-vip";

/**
 * The smallest advert interval a VirtualIP may use unless the admin says otherwise
 * (operator --min-advert-interval, render --min-advert-interval), in milliseconds.
 */
export const DEFAULT_MIN_ADVERT_INTERVAL_MS = 100;
/** File name of keepalived's notify FIFO inside the runtime directory. */
export const NOTIFY_FIFO_NAME = "notify.fifo";

/** Priority of a node the VirtualIP does not name in vrrp.priorities. */
export const DEFAULT_PRIORITY = 100;

/** Prefix of the per-node config Secret's name; see nodeConfigSecretName. */
export const NODE_CONFIG_SECRET_PREFIX = "keepalived-vip-node-";
/** Prefix of an instance Secret's name; see instanceSecretName. */
export const INSTANCE_SECRET_PREFIX = "keepalived-vip-instance-";
/** Prefix of the agent heartbeat Lease's name. */
export const AGENT_LEASE_PREFIX = "keepalived-vip-agent-";
/** Name of the operator's leader-election Lease. */
export const LEADER_LEASE_NAME = "keepalived-vip-operator-leader";
/** Name of the keepalived DaemonSet the operator owns. */
export const DAEMONSET_NAME = "keepalived-vip-agent";
