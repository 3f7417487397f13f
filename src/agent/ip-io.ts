// Runs iproute2 for the agent: reads interface addresses, removes addresses
// keepalived left behind. I/O (child processes).
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import type { NodeInstance } from "../api/index.js";
import type { Logger } from "../shared/logger.js";
import { parseIpAddrJson, planLeftoverVips, type AddressOnLink, type LinkAddresses } from "./ip.js";

const run = promisify(execFile);

/** Reads every interface and its addresses with `ip -j addr`. */
export async function readInterfaces(ipPath = "ip"): Promise<LinkAddresses[]> {
  const { stdout } = await run(ipPath, ["-j", "addr", "show"], { timeout: 10_000, maxBuffer: 16 * 1024 * 1024 });
  return parseIpAddrJson(stdout);
}

/**
 * Why addresses are removed: "leftover", keepalived died or stopped without
 * removing them (a warning: the node answered for an address it no longer
 * advertised); "handover", the agent ended the VRRP process that held them
 * after a planned handover (docs/adr/0018), the expected last step (info).
 */
export type RemovalReason = "leftover" | "handover";

export interface RemoveLeftoverOptions {
  instances: readonly NodeInstance[];
  /** Default "leftover". */
  reason?: RemovalReason;
  hostIP?: string;
  /** Addresses on the links before keepalived started (snapshot keys); they are never removed. */
  preexisting?: ReadonlySet<string>;
  logger: Logger;
  ipPath?: string;
}

/**
 * Removes the VIPs of `instances` still present on their interfaces; an address
 * that vanished meanwhile is not an error. Returns what was removed.
 */
export async function removeLeftoverVips(opts: RemoveLeftoverOptions): Promise<AddressOnLink[]> {
  const ipPath = opts.ipPath ?? "ip";
  const leftovers = planLeftoverVips(await readInterfaces(ipPath), opts.instances, opts.hostIP, opts.preexisting);
  const planned = opts.reason === "handover";
  const removed: AddressOnLink[] = [];
  for (const a of leftovers) {
    try {
      await run(ipPath, ["addr", "del", `${a.address}/${a.prefixLength}`, "dev", a.interface], { timeout: 10_000 });
      removed.push(a);
      if (planned) opts.logger.info("Released VIP after the handover", { address: a.address, interface: a.interface });
      else opts.logger.warn("Removed leftover VIP", { address: a.address, interface: a.interface });
    } catch (err) {
      const msg = (err as { stderr?: string }).stderr ?? String(err);
      if (/Cannot assign requested address|not found|No such/i.test(msg)) continue;
      opts.logger.error(planned ? "Failed to release VIP after the handover" : "Failed to remove leftover VIP", {
        address: a.address,
        interface: a.interface,
        error: msg.trim(),
      });
    }
  }
  return removed;
}
