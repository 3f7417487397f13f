// Condition types and reasons of a VirtualIP's status. Pure constants.

export const CONDITION_READY = "Ready";
export const CONDITION_CONFLICT = "Conflict";
export const CONDITION_SPLIT_BRAIN = "SplitBrain";

/** Reasons of the Ready condition, in words a person understands. */
export const ReadyReason = {
  /** A node holds the address and the config is in place. */
  Active: "Active",
  /** Rendered, but no live node reports MASTER (yet). */
  NoMaster: "NoMaster",
  /** The Service named by serviceRef does not exist. */
  ServiceNotFound: "ServiceNotFound",
  /** forwarding kube-proxy on a Service that is not type LoadBalancer (or has another loadBalancerClass). */
  ServiceNotLoadBalancer: "ServiceNotLoadBalancer",
  /** No node matches nodeSelector (or none has a usable InternalIP of the address family). */
  NoEligibleNodes: "NoEligibleNodes",
  /** The spec fails validation (should be rare: the API server validates too). */
  InvalidSpec: "InvalidSpec",
  /** spec.vrrp.advertisementInterval is below the floor the admin set (operator --min-advert-interval). */
  AdvertIntervalTooShort: "AdvertIntervalTooShort",
  /** The auth Secret or key is missing or its password is invalid. */
  InvalidAuthSecret: "InvalidAuthSecret",
  /** No VirtualIPPool exists, or none admits the namespace (nothing is rendered without a pool). */
  NoPool: "NoPool",
  /** spec.address (or spec.pool) is in no pool that admits the VirtualIP's namespace. */
  AddressNotAllowed: "AddressNotAllowed",
  /** spec.virtualRouterId is outside the router ids of the address's pool. */
  RouterIdNotAllowed: "RouterIdNotAllowed",
  /** The address is never allowed: a node's own, loopback, multicast, link-local, a Service range, ... */
  AddressReserved: "AddressReserved",
  /** The pools that admit the namespace have no free address (or router id) left. */
  PoolExhausted: "PoolExhausted",
  /** Another controller wrote the Service's status.loadBalancer.ingress: it is left alone. */
  IngressOwnedElsewhere: "IngressOwnedElsewhere",
  /** Left out because it conflicts with a VirtualIP that claimed the address or router id first. */
  Conflict: "Conflict",
  /** Left out because it would push a published plan object over the API's object size limit. */
  TooLarge: "TooLarge",
  /** spec.interface names an interface no agent of the selected nodes has published (ADR 0016). */
  InterfaceNotFound: "InterfaceNotFound",
  /** forwarding: ipvs, but the agents of the selected nodes report no IPVS in their kernel (ADR 0016). */
  IPVSUnavailable: "IPVSUnavailable",
  /** A node's keepalived refused the VirtualIP's VRRP instance; the node runs its last good version, or none (ADR 0016). */
  ConfigRejected: "ConfigRejected",
  /** Being deleted. */
  Deleting: "Deleting",
} as const;
export type ReadyReason = (typeof ReadyReason)[keyof typeof ReadyReason];

/** Reasons of the Conflict condition. */
export const ConflictReason = {
  NoConflict: "NoConflict",
  DuplicateAddress: "DuplicateAddress",
  RouterIdClash: "RouterIdClash",
} as const;
export type ConflictReason = (typeof ConflictReason)[keyof typeof ConflictReason];
