// The "namespace/name" key of an object, the one way every folder builds and
// splits it. Pure.

/** "namespace/name" of a namespaced object. */
export function keyOf(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/** "namespace/name" of an object's metadata; a missing namespace counts as "default", as kubectl does. */
export function objectKey(meta: { namespace?: string; name?: string } | undefined): string {
  return keyOf(meta?.namespace || "default", meta?.name ?? "");
}

/** Splits a "namespace/name" key; a key without a namespace is in "default". */
export function splitKey(key: string): { namespace: string; name: string } {
  const slash = key.indexOf("/");
  return slash < 0 ? { namespace: "default", name: key } : { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}
