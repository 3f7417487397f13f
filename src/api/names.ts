// Derived object names (per-node Secret, per-node Lease). Pure.
import { AGENT_LEASE_PREFIX, INSTANCE_SECRET_PREFIX, NODE_CONFIG_SECRET_PREFIX } from "./constants.js";

const MAX_NAME = 253;

/** FNV-1a 32-bit hex of a string: a short, stable suffix for names that would be too long. */
function shortHash(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, "0");
}

function prefixed(prefix: string, node: string): string {
  const name = prefix + node;
  if (name.length <= MAX_NAME) return name;
  const keep = MAX_NAME - prefix.length - 9;
  return `${prefix}${node.slice(0, keep)}-${shortHash(node)}`;
}

/** Name of the Secret that holds what is `node`'s own in its keepalived.conf (node.json). */
export function nodeConfigSecretName(node: string): string {
  return prefixed(NODE_CONFIG_SECRET_PREFIX, node);
}

/** Name of the heartbeat Lease the agent on `node` renews. */
export function agentLeaseName(node: string): string {
  return prefixed(AGENT_LEASE_PREFIX, node);
}

/**
 * Name of the Secret that holds the shared part of VRRP instance `instance`
 * (instance.json): the name lowercased, anything but [a-z0-9] as "-", and a
 * hash of the exact name, so that two instance names never share a Secret.
 */
export function instanceSecretName(instance: string): string {
  const readable = instance
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 200);
  return `${INSTANCE_SECRET_PREFIX}${readable === "" ? "" : `${readable}-`}${shortHash(instance)}`;
}
