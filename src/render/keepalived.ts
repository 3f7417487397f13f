// keepalived.conf text of one node from planned values. Pure. Every value is
// re-checked on the way into the text (IPs re-canonicalized, integers
// range-checked, names restricted), so no object field can add a directive.
import { NOTIFY_FIFO_NAME, canonicalIP, ipFamily } from "../api/index.js";
import type { Family } from "../api/index.js";
import { MAX_AUTH_PASSWORD } from "./auth.js";
import type { IpvsProtocol, VirtualServer } from "./ipvs.js";
import { isInterfaceName } from "./nodes.js";
import { compareIP, compareStrings, sortedUnique } from "./order.js";
import { assertConfigShape, commentText, intToken, sanitizeName, token } from "./tokens.js";

/** One vrrp_instance as one node runs it. */
export interface KeepalivedInstance {
  name: string;
  interface: string;
  virtualRouterId: number;
  family: Family;
  /** This node's priority. */
  priority: number;
  version: 2 | 3;
  advertIntervalMs: number;
  preempt: boolean;
  /** Set when adverts go by unicast: this node's InternalIP and the other nodes'. */
  unicast?: { sourceIP: string; peers: string[] };
  /** VRRPv2 PASS password. Secret: never log it. */
  authPassword?: string;
  /** The one advertised address. */
  primaryAddress: string;
  /** Addresses held with the instance but not advertised. */
  excludedAddresses: string[];
  /** "namespace/name" of the VirtualIPs it carries (shown in a comment). */
  virtualIPs: string[];
}

/** Input of {@link renderKeepalivedConf}. */
export interface KeepalivedConfInput {
  node: string;
  /** Absolute runtime directory of the agent (the notify FIFO lives there). */
  runtimeDir: string;
  instances: KeepalivedInstance[];
  virtualServers: VirtualServer[];
}

/** Seconds between gratuitous ARP/NA bursts right after becoming MASTER (keepalived's default). */
const GARP_MASTER_DELAY_S = 5;
/** Refresh of gratuitous ARP/NA while MASTER, so switch and neighbour caches stay right. */
const GARP_MASTER_REFRESH_S = 60;
/** Interval of the TCP health check of a real server, and its connect timeout. */
const CHECK_DELAY_LOOP_S = 5;
const CHECK_CONNECT_TIMEOUT_S = 3;

const INDENT = "    ";

/** An IP literal as a token: must already be canonical and of `family`. */
function ipToken(ip: string, family: Family, what: string): string {
  if (canonicalIP(ip) !== ip || ipFamily(ip) !== family) throw new Error(`Refusing to render ${what} ${JSON.stringify(ip)}: not a canonical IPv${family} address`);
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
  const frac = String(ms % 1000).padStart(3, "0").replace(/0+$/, "");
  return frac === "" ? String(whole) : `${whole}.${frac}`;
}

function addressLine(ip: string, family: Family, iface: string): string {
  return `${ipToken(ip, family, "virtual address")}/${family === 4 ? 32 : 128} dev ${iface}`;
}

/** `head { body }`, the body indented one level; nest by indenting the result. */
function block(head: string, body: string[]): string[] {
  return [`${head} {`, ...indent(body), "}"];
}

function indent(lines: string[]): string[] {
  return lines.map((l) => `${INDENT}${l}`);
}

function renderAuth(inst: KeepalivedInstance): string[] {
  if (inst.authPassword === undefined) return [];
  if (inst.version !== 2) throw new Error(`Refusing to render authentication in VRRPv${inst.version} instance ${inst.name}`);
  const pw = token(inst.authPassword, "auth_pass", true);
  if (pw.length > MAX_AUTH_PASSWORD) throw new Error(`Refusing to render auth_pass of instance ${inst.name}: longer than ${MAX_AUTH_PASSWORD} characters`);
  return block("authentication", ["auth_type PASS", `auth_pass ${pw}`]);
}

function renderUnicast(inst: KeepalivedInstance): string[] {
  if (!inst.unicast) return [];
  const src = ipToken(inst.unicast.sourceIP, inst.family, "unicast_src_ip");
  const peers = sortedUnique(inst.unicast.peers, compareIP).filter((p) => p !== inst.unicast?.sourceIP);
  // keepalived falls back to multicast (with a warning) when unicast has no peers; say so plainly instead.
  if (peers.length === 0) return [];
  return [`unicast_src_ip ${src}`, ...block("unicast_peer", peers.map((p) => ipToken(p, inst.family, "unicast_peer")))];
}

function renderInstance(inst: KeepalivedInstance): string[] {
  const iface = interfaceToken(inst.interface, "interface");
  const excluded = sortedUnique(inst.excludedAddresses, compareIP).filter((a) => a !== inst.primaryAddress);
  const lines = [
    "state BACKUP",
    `interface ${iface}`,
    `virtual_router_id ${intToken(inst.virtualRouterId, "virtual_router_id", [1, 255])}`,
    `version ${intToken(inst.version, "version", [2, 3])}`,
    `priority ${intToken(inst.priority, "priority", [1, 254])}`,
    `advert_int ${advertIntervalText(inst.advertIntervalMs, inst.version)}`,
    ...(inst.preempt ? [] : ["nopreempt"]),
    ...renderUnicast(inst),
    ...renderAuth(inst),
    ...block("virtual_ipaddress", [addressLine(inst.primaryAddress, inst.family, iface)]),
  ];
  if (excluded.length > 0) {
    lines.push("# Held with the instance but not advertised: adding or removing one never changes the adverts.");
    lines.push(...block("virtual_ipaddress_excluded", excluded.map((a) => addressLine(a, inst.family, iface))));
  }
  return [`# VirtualIPs: ${commentText(inst.virtualIPs.join(", "))}`, ...block(`vrrp_instance ${nameToken(inst.name, "vrrp_instance name")}`, lines)];
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

function renderGlobalDefs(input: KeepalivedConfInput): string[] {
  if (!/^\/[A-Za-z0-9_./-]*$/.test(input.runtimeDir)) throw new Error(`Refusing to render runtime directory ${JSON.stringify(input.runtimeDir)}`);
  return block(
    "global_defs",
    [
      `router_id ${token(sanitizeName(input.node), "router_id")}`,
      `vrrp_notify_fifo ${token(`${input.runtimeDir.replace(/\/+$/, "")}/${NOTIFY_FIFO_NAME}`, "vrrp_notify_fifo")}`,
      "fifo_write_vrrp_states_on_reload",
      `vrrp_garp_master_delay ${GARP_MASTER_DELAY_S}`,
      `vrrp_garp_master_refresh ${GARP_MASTER_REFRESH_S}`,
      // A MASTER whose address list changed is still the same MASTER; do not drop its adverts.
      "vrrp_skip_check_adv_addr",
    ],
  );
}

/**
 * Renders a node's keepalived.conf: a header, global_defs (router id, notify
 * FIFO, gratuitous ARP timing), one vrrp_instance per instance (sorted by
 * name) and one virtual_server per ipvs port (sorted by address, port,
 * protocol). Same input, same bytes. Throws only on a value that is not safe
 * to render, which means a bug upstream, never a user error.
 */
export function renderKeepalivedConf(input: KeepalivedConfInput): string {
  const instances = [...input.instances].sort((a, b) => compareStrings(a.name, b.name));
  const servers = [...input.virtualServers].sort(
    (a, b) => compareIP(a.address, b.address) || a.port - b.port || compareStrings(a.protocol, b.protocol),
  );
  const sections = [
    [
      `# keepalived.conf of node ${sanitizeName(input.node)}`,
      "# Generated by keepalived-vip-operator from VirtualIP objects. Do not edit: it is overwritten.",
    ],
    renderGlobalDefs(input),
    ...instances.map(renderInstance),
    ...servers.map(renderVirtualServer),
  ];
  const text = `${sections.map((s) => s.join("\n")).join("\n\n")}\n`;
  assertConfigShape(text);
  return text;
}
