// keepalived.conf text of one node from planned values. Pure. Every value is
// re-checked on the way into the text (IPs re-canonicalized, integers
// range-checked, names restricted), so no object field can add a directive.
// The parts of an instance that every node shares are rendered and checked
// once per plan (InstanceTemplate); each node adds only its own lines.
import { HANDOVER_TRACK_FILE, HANDOVER_TRACK_WEIGHT, NOTIFY_FIFO_NAME, TRACK_DIR_NAME, ipFamily, standbyTrackFile } from "../api/index.js";
import type { Family } from "../api/index.js";
import { MAX_AUTH_PASSWORD } from "./auth.js";
import type { IpvsProtocol, VirtualServer } from "./ipvs.js";
import { parsedIP } from "./ipmemo.js";
import { isInterfaceName } from "./nodes.js";
import { compareIP, compareStrings, sortedUnique } from "./order.js";
import { assertBalanced, assertLines, commentText, intToken, sanitizeName, token } from "./tokens.js";

/** Seconds between gratuitous ARP/NA bursts right after becoming MASTER (keepalived's default). */
const GARP_MASTER_DELAY_S = 5;
/** Refresh of gratuitous ARP/NA while MASTER, so switch and neighbour caches stay right. */
const GARP_MASTER_REFRESH_S = 60;
/**
 * Nice value of keepalived's VRRP process: the highest, so that adverts go out
 * and are read in time on a busy node (a late advert is a false failover).
 * Needs CAP_SYS_NICE; without it keepalived logs "Unable to set process
 * priority" and runs at nice 0. Not realtime scheduling (vrrp_rt_priority):
 * keepalived 2.2.7 sets the VRRP process's RLIMIT_RTTIME to 0 on a reload and
 * the kernel then kills it, and the agent reloads on every change (docs/agent.md).
 */
const VRRP_NICE = -20;
/** Interval of the TCP health check of a real server, and its connect timeout. */
const CHECK_DELAY_LOOP_S = 5;
const CHECK_CONNECT_TIMEOUT_S = 3;

const INDENT = "    ";

/** An IP literal as a token: must already be canonical and of `family`. */
function ipToken(ip: string, family: Family, what: string): string {
  const parsed = parsedIP(ip);
  if (parsed.canonical !== ip || parsed.family !== family)
    throw new Error(`Refusing to render ${what} ${JSON.stringify(ip)}: not a canonical IPv${family} address`);
  return token(ip, what);
}

function interfaceToken(name: string, what: string): string {
  if (!isInterfaceName(name)) throw new Error(`Refusing to render ${what} ${JSON.stringify(name)}: not a plain interface name`);
  return token(name, what);
}

function nameToken(name: string, what: string): string {
  if (!/^[A-Za-z0-9_.-]+$/.test(name)) throw new Error(`Refusing to render ${what} ${JSON.stringify(name)}: not [A-Za-z0-9_.-]`);
  return token(name, what);
}

/** advert_int text: whole seconds for VRRPv2, seconds with up to two decimals for VRRPv3. */
export function advertIntervalText(ms: number, version: 2 | 3): string {
  if (version === 2) {
    if (!Number.isInteger(ms) || ms % 1000 !== 0) throw new Error(`Refusing to render VRRPv2 advert_int of ${ms}ms: not whole seconds`);
    return intToken(ms / 1000, "advert_int", [1, 255]);
  }
  if (!Number.isInteger(ms) || ms % 10 !== 0) throw new Error(`Refusing to render VRRPv3 advert_int of ${ms}ms: not a multiple of 10ms`);
  intToken(ms, "advert_int (ms)", [10, 40950]);
  const whole = Math.floor(ms / 1000);
  const frac = String(ms % 1000)
    .padStart(3, "0")
    .replace(/0+$/, "");
  return frac === "" ? String(whole) : `${whole}.${frac}`;
}

function addressLine(ip: string, family: Family, iface: string): string {
  return `${ipToken(ip, family, "virtual address")}/${family === 4 ? 32 : 128} dev ${iface}`;
}

/** nopreempt without preemption; preempt_delay (seconds, up to 3 decimals, at most 1000) with it when set. */
function preemptLines(inst: SharedInstance): string[] {
  if (!inst.preempt) return ["nopreempt"];
  const ms = inst.preemptDelayMs;
  if (ms === undefined) return [];
  intToken(ms, "preempt_delay (ms)", [1, 1_000_000]);
  const frac = String(ms % 1000)
    .padStart(3, "0")
    .replace(/0+$/, "");
  return [`preempt_delay ${Math.floor(ms / 1000)}${frac === "" ? "" : `.${frac}`}`];
}

/**
 * `text` (a piece of whole lines) after checking that each line is
 * well-formed and that its braces balance once `opens` closing braces follow
 * it. A config made of such pieces, with the closing brace lines they ask
 * for, needs no second look.
 */
function checked(text: string, opens = 0): string {
  assertLines(text);
  assertBalanced(opens === 0 ? text : `${text}${"\n}".repeat(opens)}`);
  return text;
}

/** `head { body }`, the body indented one level; nest by indenting the result. */
function block(head: string, body: string[]): string[] {
  return [`${head} {`, ...indent(body), "}"];
}

function indent(lines: string[]): string[] {
  return lines.map((l) => `${INDENT}${l}`);
}

function renderAuth(inst: SharedInstance): string[] {
  if (inst.authPassword === undefined) return [];
  if (inst.version !== 2) throw new Error(`Refusing to render authentication in VRRPv${inst.version} instance ${inst.name}`);
  const pw = token(inst.authPassword, "auth_pass", true);
  if (pw.length > MAX_AUTH_PASSWORD) throw new Error(`Refusing to render auth_pass of instance ${inst.name}: longer than ${MAX_AUTH_PASSWORD} characters`);
  return block("authentication", ["auth_type PASS", `auth_pass ${pw}`]);
}

/** The parts of one vrrp_instance that are the same on every node taking part. */
export interface SharedInstance {
  name: string;
  virtualRouterId: number;
  family: Family;
  version: 2 | 3;
  advertIntervalMs: number;
  preempt: boolean;
  /** keepalived preempt_delay in ms (with preempt only); unset: none. */
  preemptDelayMs?: number;
  /** Whether adverts go by unicast (when the node has a source address). */
  unicast: boolean;
  /** Unicast addresses of the nodes (any order, duplicates allowed); each node drops its own. */
  peers: string[];
  /** VRRPv2 PASS password. Secret: never log it. */
  authPassword?: string;
  primaryAddress: string;
  excludedAddresses: string[];
  virtualIPs: string[];
}

/** What one node puts into a shared instance. */
export interface InstanceOnNode {
  interface: string;
  priority: number;
  /** This node's unicast source address; no unicast without it. */
  sourceIP?: string;
}

/**
 * A vrrp_instance rendered and checked once for every node: the shared lines
 * as text, the peers sorted, the address blocks per interface. Build it with
 * {@link prepareInstance}; {@link renderInstanceOnNode} fills in a node.
 */
export interface InstanceTemplate {
  name: string;
  family: Family;
  unicast: boolean;
  /** VirtualIPs comment, vrrp_instance head and the state line. */
  head: string;
  /** virtual_router_id and version lines. */
  ids: string;
  /** advert_int and, without preemption, nopreempt (with it, preempt_delay when set). */
  timing: string;
  /** track_file block: the node's handover file and the instance's standby file (docs/adr/0018). */
  tracking: string;
  /** Sorted, unique peer addresses' lines, joined. */
  peerText: string;
  /** Peer address -> start of its line in peerText (in order). */
  peerStarts: Map<string, number>;
  /** authentication block, "" without one. */
  auth: string;
  primaryAddress: string;
  /** Sorted, unique, without the primary. */
  excluded: string[];
  /** Interface -> the address blocks on it (filled as nodes are rendered). */
  addressBlocks: Map<string, string>;
}

/** Renders the shared parts of `inst` once; throws on a value that is not safe to render. */
export function prepareInstance(inst: SharedInstance): InstanceTemplate {
  const peers = inst.unicast ? sortedUnique(inst.peers, compareIP) : [];
  const lines = (l: string[]): string => checked(indent(l).join("\n"));
  const peerLines = peers.map((ip) => `${INDENT}${INDENT}${ipToken(ip, inst.family, "unicast_peer")}`);
  const peerStarts = new Map<string, number>();
  let offset = 0;
  peers.forEach((ip, i) => {
    peerStarts.set(ip, offset);
    offset += (peerLines[i] ?? "").length + 1;
  });
  return {
    name: inst.name,
    family: inst.family,
    unicast: inst.unicast,
    head: checked(
      [
        `# VirtualIPs: ${commentText(inst.virtualIPs.join(", "))}`,
        `vrrp_instance ${nameToken(inst.name, "vrrp_instance name")} {`,
        `${INDENT}state BACKUP`,
      ].join("\n"),
      1,
    ),
    ids: lines([`virtual_router_id ${intToken(inst.virtualRouterId, "virtual_router_id", [1, 255])}`, `version ${intToken(inst.version, "version", [2, 3])}`]),
    timing: lines([`advert_int ${advertIntervalText(inst.advertIntervalMs, inst.version)}`, ...preemptLines(inst)]),
    tracking: lines(block("track_file", [`${HANDOVER_TRACKER} weight ${HANDOVER_TRACK_WEIGHT}`, `${standbyTracker(inst.name)} weight 0`])),
    peerText: checked(peerLines.join("\n")),
    peerStarts,
    auth: lines(renderAuth(inst)),
    primaryAddress: inst.primaryAddress,
    excluded: sortedUnique(inst.excludedAddresses, compareIP).filter((a) => a !== inst.primaryAddress),
    addressBlocks: new Map(),
  };
}

/** virtual_ipaddress (and virtual_ipaddress_excluded) of a template on interface `iface`, rendered once per interface. */
function addressBlocks(t: InstanceTemplate, iface: string): string {
  const cached = t.addressBlocks.get(iface);
  if (cached !== undefined) return cached;
  const lines = block("virtual_ipaddress", [addressLine(t.primaryAddress, t.family, iface)]);
  if (t.excluded.length > 0) {
    lines.push("# Held with the instance but not advertised: adding or removing one never changes the adverts.");
    lines.push(
      ...block(
        "virtual_ipaddress_excluded",
        t.excluded.map((a) => addressLine(a, t.family, iface)),
      ),
    );
  }
  const text = checked(indent(lines).join("\n"));
  t.addressBlocks.set(iface, text);
  return text;
}

/** unicast_src_ip and the peers but this node; none when it has no source or no peer is left (keepalived would fall back to multicast). */
function unicastLines(t: InstanceTemplate, sourceIP: string | undefined): string[] {
  if (!t.unicast || sourceIP === undefined) return [];
  const src = ipToken(sourceIP, t.family, "unicast_src_ip");
  const peers = peersWithout(t, sourceIP);
  if (peers === "") return [];
  return [checked(`${INDENT}unicast_src_ip ${src}\n${INDENT}unicast_peer {`, 1), peers, `${INDENT}}`];
}

/** The peer lines of `t` but the one of `ip` ("" when none is left), cut out of the shared text. */
function peersWithout(t: InstanceTemplate, ip: string): string {
  const start = t.peerStarts.get(ip);
  if (start === undefined) return t.peerText;
  const next = t.peerText.indexOf("\n", start);
  if (next < 0) return start === 0 ? "" : t.peerText.slice(0, start - 1);
  return start === 0 ? t.peerText.slice(next + 1) : t.peerText.slice(0, start) + t.peerText.slice(next + 1);
}

/** The whole vrrp_instance text of `t` on one node. */
export function renderInstanceOnNode(t: InstanceTemplate, node: InstanceOnNode): string {
  const iface = interfaceToken(node.interface, "interface");
  const parts = [
    t.head,
    checked(`${INDENT}interface ${iface}`),
    t.ids,
    checked(`${INDENT}priority ${intToken(node.priority, "priority", [1, 254])}`),
    t.timing,
    t.tracking,
  ];
  parts.push(...unicastLines(t, node.sourceIP));
  if (t.auth !== "") parts.push(t.auth);
  parts.push(addressBlocks(t, iface), "}");
  return parts.join("\n");
}

/** Checks `node`'s values for `t` as {@link renderInstanceOnNode} would, without building the text. */
export function checkInstanceOnNode(t: InstanceTemplate, node: InstanceOnNode): void {
  interfaceToken(node.interface, "interface");
  intToken(node.priority, "priority", [1, 254]);
  if (t.unicast && node.sourceIP !== undefined) ipToken(node.sourceIP, t.family, "unicast_src_ip");
}

/** Checks that a virtual_server renders (throws like the renderer on an unsafe value). */
export function checkVirtualServer(vs: VirtualServer): void {
  checked(renderVirtualServer(vs).join("\n"));
}

function protocolToken(p: IpvsProtocol): string {
  if (p !== "TCP" && p !== "UDP") throw new Error(`Refusing to render protocol ${JSON.stringify(p)}`);
  return p;
}

function renderRealServer(vs: VirtualServer, family: Family, rs: VirtualServer["realServers"][number]): string[] {
  const head = `real_server ${ipToken(rs.address, family, "real_server")} ${intToken(rs.port, "real_server port", [1, 65535])}`;
  const check = vs.protocol === "TCP" ? block("TCP_CHECK", [`connect_timeout ${CHECK_CONNECT_TIMEOUT_S}`]) : [];
  return block(head, ["weight 1", ...check]);
}

function renderVirtualServer(vs: VirtualServer): string[] {
  const family = ipFamily(vs.address);
  if (family === undefined) throw new Error(`Refusing to render virtual_server ${JSON.stringify(vs.address)}: not an IP address`);
  const head = `virtual_server ${ipToken(vs.address, family, "virtual_server")} ${intToken(vs.port, "virtual_server port", [1, 65535])}`;
  const body = [
    `delay_loop ${CHECK_DELAY_LOOP_S}`,
    `lb_algo ${nameToken(vs.scheduler, "lb_algo")}`,
    `lb_kind ${nameToken(vs.method, "lb_kind")}`,
    `protocol ${protocolToken(vs.protocol)}`,
  ];
  const servers = [...vs.realServers].sort((a, b) => compareIP(a.address, b.address) || a.port - b.port);
  const comment = `# VirtualIP ${commentText(vs.virtualIP)}, Service ${commentText(vs.service)} port ${sanitizeName(vs.portName || String(vs.port))}`;
  return [comment, ...block(head, [...body, ...servers.flatMap((rs) => renderRealServer(vs, family, rs))])];
}

/** keepalived name of the node-wide handover track file. */
const HANDOVER_TRACKER = "kvip_handover";

/** keepalived name of an instance's standby track file. */
function standbyTracker(instance: string): string {
  return `kvip_standby_${nameToken(instance, "vrrp_instance name")}`;
}

/**
 * A track_file declaration: the file in the runtime directory, created with 0
 * when missing (never overwritten, so a reload keeps the agent's value).
 */
function renderTrackFile(name: string, runtimeDir: string, file: string): string[] {
  return block(`track_file ${name}`, [`file ${token(`${runtimeDir.replace(/\/+$/, "")}/${TRACK_DIR_NAME}/${file}`, "track file")}`, "init_file 0"]);
}

function renderGlobalDefs(input: { node: string; runtimeDir: string }): string[] {
  if (!/^\/[A-Za-z0-9_./-]*$/.test(input.runtimeDir)) throw new Error(`Refusing to render runtime directory ${JSON.stringify(input.runtimeDir)}`);
  return block("global_defs", [
    `router_id ${token(sanitizeName(input.node), "router_id")}`,
    `vrrp_notify_fifo ${token(`${input.runtimeDir.replace(/\/+$/, "")}/${NOTIFY_FIFO_NAME}`, "vrrp_notify_fifo")}`,
    "fifo_write_vrrp_states_on_reload",
    `vrrp_garp_master_delay ${GARP_MASTER_DELAY_S}`,
    `vrrp_garp_master_refresh ${GARP_MASTER_REFRESH_S}`,
    // A MASTER whose address list changed is still the same MASTER; do not drop its adverts.
    "vrrp_skip_check_adv_addr",
    `vrrp_priority ${VRRP_NICE}`,
    // Never switch to realtime on its own when late (see VRRP_NICE); -1 also silences the startup notice.
    "max_auto_priority -1",
  ]);
}

/** An instance of a node's config: a (possibly shared) template and the node's values. */
export interface NodeInstanceText {
  template: InstanceTemplate;
  values: InstanceOnNode;
}

/** Input of {@link renderNodeConf}. */
export interface NodeConfInput {
  node: string;
  runtimeDir: string;
  instances: NodeInstanceText[];
  virtualServers: VirtualServer[];
  /** Rendered virtual_server texts to reuse across the nodes of one plan. */
  serverCache?: WeakMap<VirtualServer, string>;
}

function virtualServerText(vs: VirtualServer, cache: WeakMap<VirtualServer, string> | undefined): string {
  const cached = cache?.get(vs);
  if (cached !== undefined) return cached;
  const text = checked(renderVirtualServer(vs).join("\n"));
  cache?.set(vs, text);
  return text;
}

/**
 * Renders a node's keepalived.conf from prepared instance templates: a
 * header, global_defs (router id, notify FIFO, gratuitous ARP timing), the
 * track files, one vrrp_instance per instance (sorted by name) and one
 * virtual_server per ipvs port (sorted by address, port, protocol). Same
 * input, same bytes. Pieces shared by many nodes (templates, `serverCache`)
 * are rendered once; the text is the same as rendering every piece anew.
 * Throws only on a value that is not safe to render, which means a bug
 * upstream or a tampered Secret, never a user error.
 */
export function renderNodeConf(input: NodeConfInput): string {
  const instances = [...input.instances].sort((a, b) => compareStrings(a.template.name, b.template.name));
  const servers = [...input.virtualServers].sort((a, b) => compareIP(a.address, b.address) || a.port - b.port || compareStrings(a.protocol, b.protocol));
  const sections = [
    checked(
      [
        `# keepalived.conf of node ${sanitizeName(input.node)}`,
        "# Generated by keepalived-vip-operator from VirtualIP objects. Do not edit: it is overwritten.",
      ].join("\n"),
    ),
    checked(renderGlobalDefs(input).join("\n")),
    checked(
      [
        "# Placement without a reload: the agent writes 0 or 1 into these files (track files, docs/agent.md).",
        ...renderTrackFile(HANDOVER_TRACKER, input.runtimeDir, HANDOVER_TRACK_FILE),
        ...instances.flatMap((i) => renderTrackFile(standbyTracker(i.template.name), input.runtimeDir, standbyTrackFile(i.template.name))),
      ].join("\n"),
    ),
    ...instances.map((i) => renderInstanceOnNode(i.template, i.values)),
    ...servers.map((vs) => virtualServerText(vs, input.serverCache)),
  ];
  // Every line was checked in the piece it came from, and every piece balances (with the
  // constant closing brace lines of its instance): the whole text needs no second scan.
  return `${sections.join("\n\n")}\n`;
}
