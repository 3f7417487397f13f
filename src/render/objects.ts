// Turns a list of Kubernetes objects (for example the documents of a YAML
// file) into a ClusterView, for the offline render and for tests. Pure.
import type { V1EndpointSlice } from "@kubernetes/client-node";
import { KIND, parseVirtualIP } from "../api/index.js";
import type { ClusterView } from "./types.js";

/** Result of {@link parseClusterObjects}: the view, and one message per object that could not be used. */
export interface ParsedClusterObjects {
  view: ClusterView;
  errors: string[];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function hasName(obj: Record<string, unknown>): boolean {
  const meta = obj.metadata;
  return isObject(meta) && typeof meta.name === "string" && meta.name !== "";
}

/**
 * Sorts untrusted objects by kind into a ClusterView: VirtualIPs are parsed
 * with the API schema (defaults applied), Nodes, Services, EndpointSlices and
 * Secrets are taken as they are, `List` items are unpacked, empty documents
 * and other kinds are ignored. Node interfaces come only from Node
 * annotations, so `nodeInterfaces` is empty.
 */
export function parseClusterObjects(objects: unknown[]): ParsedClusterObjects {
  const view: ClusterView = { virtualIPs: [], nodes: [], services: [], endpointSlices: [], secrets: [], nodeInterfaces: {} };
  const errors: string[] = [];
  const visit = (obj: unknown, where: string): void => {
    if (obj === null || obj === undefined) return;
    if (!isObject(obj)) {
      errors.push(`${where}: not an object`);
      return;
    }
    const kind = obj.kind;
    if (kind === "List" && Array.isArray(obj.items)) {
      obj.items.forEach((item, i) => visit(item, `${where}.items[${i}]`));
      return;
    }
    if (kind === KIND) {
      const res = parseVirtualIP(obj);
      if (res.ok) view.virtualIPs.push(res.value);
      else errors.push(res.error);
      return;
    }
    if (kind !== "Node" && kind !== "Service" && kind !== "EndpointSlice" && kind !== "Secret") return;
    if (!hasName(obj)) {
      errors.push(`${where}: ${kind} without metadata.name`);
      return;
    }
    if (kind === "Node") view.nodes.push(obj);
    else if (kind === "Service") view.services.push(obj);
    else if (kind === "EndpointSlice") view.endpointSlices.push(obj as unknown as V1EndpointSlice);
    else view.secrets.push(obj);
  };
  objects.forEach((obj, i) => visit(obj, `object ${i}`));
  return { view, errors };
}
