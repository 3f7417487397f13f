// Input of the offline `render`: multi-document YAML files of Kubernetes
// objects, checked and sorted into a ClusterView. Pure (the caller reads files).
import yaml from "js-yaml";
import type { V1EndpointSlice, V1Secret } from "@kubernetes/client-node";
import {
  AGENT_LEASE_PREFIX,
  ANNOTATION_DEFAULT_INTERFACE,
  ANNOTATION_NODE,
  DNS_SUBDOMAIN_PATTERN,
  GROUP,
  INTERFACE_NAME_PATTERN,
  KIND,
  POOL_KIND,
  agentLeaseName,
  parsePool,
  parseVirtualIP,
  type VirtualIP,
} from "../api/index.js";
import type { ClusterView } from "../render/index.js";
import { InputError } from "./command.js";

/** One input file: its name as the user gave it (`-` for stdin) and its text. */
export interface InputFile {
  name: string;
  text: string;
}

/** The ClusterView and the warnings about objects that were left aside. */
export interface RenderInput {
  view: ClusterView;
  warnings: string[];
}

type KubeObject = Record<string, unknown> & { metadata: Record<string, unknown> & { name: string } };

/** Kinds `render` reads, by "group/Kind" (core group empty). */
const READ_KINDS = [
  "/Node",
  "/Service",
  "/Secret",
  "/Namespace",
  "discovery.k8s.io/EndpointSlice",
  "coordination.k8s.io/Lease",
  "networking.k8s.io/ServiceCIDR",
  `${GROUP}/${KIND}`,
  `${GROUP}/${POOL_KIND}`,
];
const READ_KIND_NAMES = "VirtualIP, VirtualIPPool, Namespace, ServiceCIDR, Node, Service, EndpointSlice, Secret and Lease";
const CLUSTER_SCOPED = new Set(["/Node", "/Namespace", "networking.k8s.io/ServiceCIDR", `${GROUP}/${POOL_KIND}`]);

const DNS_SUBDOMAIN = new RegExp(DNS_SUBDOMAIN_PATTERN);
const INTERFACE_NAME = new RegExp(INTERFACE_NAME_PATTERN);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Collects what the files hold, in file order; errors and warnings carry the file name. */
class Collector {
  readonly errors: string[] = [];
  readonly warnings: string[] = [];
  readonly view: ClusterView = {
    virtualIPs: [],
    nodes: [],
    services: [],
    endpointSlices: [],
    secrets: [],
    nodeInterfaces: {},
    pools: [],
    namespaces: [],
    serviceCIDRs: [],
    releasing: [],
  };
  /** "group/Kind namespace/name" -> file that defined it first. */
  private readonly seen = new Map<string, string>();
  /** Node -> interface published on the agent's Lease. */
  private readonly leaseInterfaces = new Map<string, string>();

  /** Records `obj` under its identity; false (and an error) when another document defined it already. */
  claim(file: string, kindKey: string, label: string): boolean {
    const first = this.seen.get(kindKey);
    if (first !== undefined) {
      this.errors.push(`${file}: ${label} is defined twice (also in ${first})`);
      return false;
    }
    this.seen.set(kindKey, file);
    return true;
  }

  setLeaseInterface(node: string, iface: string): void {
    this.leaseInterfaces.set(node, iface);
  }

  finish(): ClusterView {
    for (const [node, iface] of [...this.leaseInterfaces].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      this.view.nodeInterfaces[node] = iface;
    }
    return this.view;
  }
}

/** Splits a file into its documents; a YAML syntax error names the file, line and column (never the text around it). */
function loadDocuments(file: InputFile, out: Collector): unknown[] {
  try {
    return yaml.loadAll(file.text, undefined, { filename: file.name, schema: yaml.CORE_SCHEMA });
  } catch (e) {
    if (e instanceof yaml.YAMLException) {
      // e.message quotes the offending lines, which may be a Secret's value: use reason and mark only.
      const where = e.mark ? `${file.name}:${e.mark.line + 1}:${e.mark.column + 1}` : file.name;
      out.errors.push(`${where}: invalid YAML: ${e.reason}`);
      return [];
    }
    throw e;
  }
}

/** "group/Kind" of an object's apiVersion and kind. */
function kindKeyOf(apiVersion: string, kind: string): string {
  const group = apiVersion.includes("/") ? apiVersion.slice(0, apiVersion.lastIndexOf("/")) : "";
  return `${group}/${kind}`;
}

/** Checks the metadata every object needs; returns it typed, or undefined after recording an error. */
function checkMetadata(doc: Record<string, unknown>, kind: string, where: string, out: Collector): KubeObject | undefined {
  const { metadata } = doc;
  if (!isRecord(metadata) || typeof metadata.name !== "string" || metadata.name === "") {
    out.errors.push(`${where}: ${kind} has no metadata.name`);
    return undefined;
  }
  if (metadata.namespace !== undefined && typeof metadata.namespace !== "string") {
    out.errors.push(`${where}: ${kind} ${metadata.name}: metadata.namespace must be a string`);
    return undefined;
  }
  return doc as KubeObject;
}

/** "name" or "namespace/name" of an object that may lack either, for a warning. */
function displayName(doc: Record<string, unknown>): string {
  const meta = isRecord(doc.metadata) ? doc.metadata : {};
  const name = typeof meta.name === "string" ? meta.name : "<unnamed>";
  return typeof meta.namespace === "string" ? `${meta.namespace}/${name}` : name;
}

/** A copy of `obj` with metadata.namespace defaulted to "default", as kubectl does. */
function withNamespace(obj: KubeObject): KubeObject {
  const ns = obj.metadata.namespace;
  return { ...obj, metadata: { ...obj.metadata, namespace: typeof ns === "string" && ns !== "" ? ns : "default" } };
}

function stringMapError(value: unknown, field: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isRecord(value)) return `${field} must be a map of strings`;
  // Names the key only: the value is secret.
  const bad = Object.keys(value).find((k) => typeof value[k] !== "string");
  return bad === undefined ? undefined : `${field}.${bad} must be a string`;
}

function addVirtualIP(obj: KubeObject, file: string, out: Collector): void {
  const res = parseVirtualIP(obj);
  if (!res.ok) {
    out.errors.push(`${file}: ${res.error}`);
    return;
  }
  const vip: VirtualIP = res.value;
  if (vip.metadata.deletionTimestamp !== undefined) {
    out.warnings.push(`${file}: VirtualIP ${vip.metadata.namespace}/${vip.metadata.name} is being deleted; left out (its address is not handed out again)`);
    const held = vip.status?.address ?? vip.spec.address;
    if (held !== undefined) out.view.releasing?.push(held);
    return;
  }
  out.view.virtualIPs.push(vip);
}

function addPool(obj: KubeObject, file: string, out: Collector): void {
  const res = parsePool(obj);
  if (!res.ok) {
    out.errors.push(`${file}: ${res.error}`);
    return;
  }
  out.view.pools.push(res.value);
}

function addNamespace(obj: KubeObject, file: string, out: Collector): void {
  const labels = obj.metadata.labels;
  const problem = stringMapError(labels, "metadata.labels");
  if (problem) {
    out.errors.push(`${file}: Namespace ${obj.metadata.name}: ${problem}`);
    return;
  }
  out.view.namespaces?.push({ name: obj.metadata.name, labels: { ...((labels ?? {}) as Record<string, string>) } });
}

function addServiceCIDR(obj: KubeObject, file: string, out: Collector): void {
  const cidrs = isRecord(obj.spec) ? obj.spec.cidrs : undefined;
  if (!Array.isArray(cidrs) || cidrs.some((c) => typeof c !== "string")) {
    out.errors.push(`${file}: ServiceCIDR ${obj.metadata.name}: spec.cidrs must be a list of CIDRs`);
    return;
  }
  out.view.serviceCIDRs?.push({ name: obj.metadata.name, cidrs: cidrs as string[] });
}

function addNode(obj: KubeObject, file: string, out: Collector): void {
  const name = obj.metadata.name;
  if (!DNS_SUBDOMAIN.test(name) || name.length > 253) {
    out.errors.push(`${file}: Node ${JSON.stringify(name)}: metadata.name is not a valid node name (DNS subdomain)`);
    return;
  }
  const annotations = obj.metadata.annotations;
  const iface = isRecord(annotations) ? annotations[ANNOTATION_DEFAULT_INTERFACE] : undefined;
  if (iface !== undefined && (typeof iface !== "string" || !INTERFACE_NAME.test(iface))) {
    out.warnings.push(`${file}: Node ${name}: annotation ${ANNOTATION_DEFAULT_INTERFACE} is not a plain interface name; ignored`);
  }
  out.view.nodes.push(obj);
}

function addSecret(obj: KubeObject, file: string, out: Collector): void {
  const label = `Secret ${String(obj.metadata.namespace)}/${obj.metadata.name}`;
  const problem = stringMapError(obj.data, "data") ?? stringMapError(obj.stringData, "stringData");
  if (problem) {
    out.errors.push(`${file}: ${label}: ${problem}`);
    return;
  }
  out.view.secrets.push(obj);
}

/** The node an agent heartbeat Lease belongs to: its holder when that matches the name, else the name without prefix. */
function leaseNode(obj: KubeObject): string | undefined {
  const name = obj.metadata.name;
  const annotations = isRecord(obj.metadata.annotations) ? obj.metadata.annotations : {};
  const spec = isRecord(obj.spec) ? obj.spec : {};
  for (const candidate of [annotations[ANNOTATION_NODE], spec.holderIdentity]) {
    if (typeof candidate === "string" && agentLeaseName(candidate) === name) return candidate;
  }
  return name.startsWith(AGENT_LEASE_PREFIX) && name.length > AGENT_LEASE_PREFIX.length ? name.slice(AGENT_LEASE_PREFIX.length) : undefined;
}

function addLease(obj: KubeObject, file: string, out: Collector): void {
  const label = `Lease ${String(obj.metadata.namespace)}/${obj.metadata.name}`;
  const annotations = obj.metadata.annotations;
  const iface = isRecord(annotations) ? annotations[ANNOTATION_DEFAULT_INTERFACE] : undefined;
  if (iface === undefined) return;
  const node = leaseNode(obj);
  if (node === undefined) {
    out.warnings.push(
      `${file}: ${label} is not an agent heartbeat Lease (${AGENT_LEASE_PREFIX}<node>); its ${ANNOTATION_DEFAULT_INTERFACE} annotation is ignored`,
    );
    return;
  }
  if (typeof iface !== "string" || !INTERFACE_NAME.test(iface)) {
    out.warnings.push(`${file}: ${label}: annotation ${ANNOTATION_DEFAULT_INTERFACE} is not a plain interface name; ignored`);
    return;
  }
  out.setLeaseInterface(node, iface);
}

function addObject(doc: Record<string, unknown>, where: string, file: string, out: Collector): void {
  const { apiVersion, kind } = doc;
  if (typeof apiVersion !== "string" || typeof kind !== "string") {
    out.errors.push(`${where}: not a Kubernetes object (apiVersion and kind must be strings)`);
    return;
  }
  const kindKey = kindKeyOf(apiVersion, kind);
  if (!READ_KINDS.includes(kindKey)) {
    out.warnings.push(`${file}: ignored ${kind} ${displayName(doc)} (${apiVersion}): render reads only ${READ_KIND_NAMES}`);
    return;
  }
  const checked = checkMetadata(doc, kind, where, out);
  if (!checked) return;
  const obj = CLUSTER_SCOPED.has(kindKey) ? checked : withNamespace(checked);
  const id = CLUSTER_SCOPED.has(kindKey) ? obj.metadata.name : `${String(obj.metadata.namespace)}/${obj.metadata.name}`;
  if (!out.claim(file, `${kindKey} ${id}`, `${kind} ${id}`)) return;
  switch (kindKey) {
    case `${GROUP}/${KIND}`:
      return addVirtualIP(obj, file, out);
    case `${GROUP}/${POOL_KIND}`:
      return addPool(obj, file, out);
    case "/Namespace":
      return addNamespace(obj, file, out);
    case "networking.k8s.io/ServiceCIDR":
      return addServiceCIDR(obj, file, out);
    case "/Node":
      return addNode(obj, file, out);
    case "/Secret":
      return addSecret(obj, file, out);
    case "coordination.k8s.io/Lease":
      return addLease(obj, file, out);
    case "/Service":
      out.view.services.push(obj);
      return;
    default:
      out.view.endpointSlices.push(obj as unknown as V1EndpointSlice);
  }
}

/** Visits one document; a `List` (as `kubectl get -o yaml` prints) is unpacked. */
function addDocument(doc: unknown, where: string, file: string, out: Collector): void {
  if (doc === null || doc === undefined) return;
  if (!isRecord(doc)) {
    out.errors.push(`${where}: not a Kubernetes object`);
    return;
  }
  if (doc.kind === "List" && doc.apiVersion === "v1" && Array.isArray(doc.items)) {
    doc.items.forEach((item, i) => addDocument(item, `${where}, item ${i + 1}`, file, out));
    return;
  }
  addObject(doc, where, file, out);
}

/** Keeps only the Secrets some VirtualIP's authSecretRef names: no other secret data goes further. */
function referencedSecrets(view: ClusterView): V1Secret[] {
  const wanted = new Set(
    view.virtualIPs.flatMap((v) => (v.spec.vrrp.authSecretRef ? [`${v.metadata.namespace ?? "default"}/${v.spec.vrrp.authSecretRef.name}`] : [])),
  );
  return view.secrets.filter((s) => wanted.has(`${s.metadata?.namespace ?? "default"}/${s.metadata?.name ?? ""}`));
}

/**
 * Parses the input files of `render` (untrusted) into a ClusterView.
 * VirtualIPs and VirtualIPPools are validated with the API schema (defaults
 * applied; a VirtualIP's status, when given, carries its allocation and claim);
 * Namespaces give their labels and ServiceCIDRs their ranges; Nodes,
 * Services, EndpointSlices and Secrets are checked for a name; an agent
 * heartbeat Lease contributes its node's default interface; other kinds are
 * ignored with a warning. A namespaced object without namespace is in
 * "default". Throws {@link InputError} listing every problem, each naming the
 * file and object (and the field, for VirtualIPs); no message quotes a
 * Secret's value.
 */
export function parseClusterView(files: InputFile[]): RenderInput {
  const out = new Collector();
  for (const file of files) {
    loadDocuments(file, out).forEach((doc, i) => addDocument(doc, `${file.name}: document ${i + 1}`, file.name, out));
  }
  if (out.errors.length > 0) throw new InputError(out.errors);
  const view = out.finish();
  view.secrets = referencedSecrets(view);
  return { view, warnings: out.warnings };
}
