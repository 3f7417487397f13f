// What the agent publishes about its node on the heartbeat Lease: the
// default interface (the one carrying the host IP), the node's own addresses,
// its interface names and IPVS (ADR 0016), and the addresses it runs (ADR
// 0017). Reads the interfaces through the NodeLinks port.
import { ANNOTATION_DEFAULT_INTERFACE, ANNOTATION_HOST_ADDRESSES, ANNOTATION_RUNNING_ADDRESSES, type NodeInstanceMap } from "../api/index.js";
import type { Logger } from "../shared/logger.js";
import { findHostInterface, hostAddresses, nodeFactsAnnotations, publishedInterfaces } from "./ip.js";
import type { NodeLinks } from "./ports.js";
import { RunningAddresses } from "./running.js";

/** Interface names and IPVS, as published. */
export interface LinkFacts {
  interfaces?: string[];
  ipvs?: boolean;
}

export interface NodeFactsOptions {
  links: NodeLinks;
  logger: Logger;
  /** The node's InternalIP, to find the default interface. */
  hostIP?: string;
  /** The interfaces or IPVS changed after the first reading (refused instances may pass now). */
  onChanged(next: LinkFacts): void;
  /** Every how many heartbeats the interfaces are read again. Default 10. */
  rediscoverEvery?: number;
}

/** The node's facts and the heartbeat Lease annotations made of them. */
export class NodeFacts {
  private defaultInterface?: string;
  /** The node's own addresses, published on the heartbeat Lease (never a VirtualIP). */
  private hostAddresses: string[] = [];
  private facts: LinkFacts = {};
  private beats = 0;
  /** What the node runs, published for deletions to wait on (ADR 0017); unknown until the installed config is resumed. */
  private readonly running = new RunningAddresses();
  private runningKnown = false;

  constructor(private readonly opts: NodeFactsOptions) {}

  /** Adopts the instance map keepalived runs now. */
  setApplied(map: NodeInstanceMap): void {
    this.running.setApplied(map);
  }

  /** The installed config is known (resumed or absent): the running addresses can be published. */
  runningIsKnown(): void {
    this.runningKnown = true;
  }

  /** Reads the interfaces: default interface, host addresses, interface names, IPVS. Never throws. */
  async discover(): Promise<void> {
    const { links, logger, hostIP } = this.opts;
    try {
      const found = await links.readInterfaces();
      this.setFacts({ interfaces: publishedInterfaces(found), ipvs: await links.ipvsAvailable() });
      if (!hostIP) return;
      const iface = findHostInterface(found, hostIP);
      this.hostAddresses = hostAddresses(found, iface, hostIP);
      if (iface !== this.defaultInterface) {
        if (iface) logger.info("Found default interface", { interface: iface, hostIP });
        else logger.warn("No interface carries the host IP", { hostIP });
      }
      this.defaultInterface = iface;
    } catch (err) {
      logger.warn("Failed to read interfaces", { error: err instanceof Error ? err.message : String(err) });
    }
  }

  /** The annotations of the next heartbeat; reads the interfaces again every few beats, or while the default interface is unknown. */
  async leaseAnnotations(): Promise<Record<string, string>> {
    const every = this.opts.rediscoverEvery ?? 10;
    if (this.beats++ % every === every - 1 || (this.opts.hostIP !== undefined && this.defaultInterface === undefined)) await this.discover();
    const annotations: Record<string, string> = this.defaultInterface ? { [ANNOTATION_DEFAULT_INTERFACE]: this.defaultInterface } : {};
    if (this.hostAddresses.length > 0) annotations[ANNOTATION_HOST_ADDRESSES] = this.hostAddresses.join(",");
    if (this.runningKnown) annotations[ANNOTATION_RUNNING_ADDRESSES] = await this.runningAnnotation();
    Object.assign(annotations, nodeFactsAnnotations(this.facts));
    return annotations;
  }

  /** The running-addresses annotation; an address that left the config counts until no interface carries it. */
  private async runningAnnotation(): Promise<string> {
    if (this.running.settling) {
      try {
        this.running.settle(await this.opts.links.readInterfaces());
      } catch (err) {
        this.opts.logger.warn("Failed to read interfaces", { error: err instanceof Error ? err.message : String(err) });
      }
    }
    return this.running.annotation();
  }

  /** Adopts what the node has; a change after the first reading is announced. */
  private setFacts(next: LinkFacts): void {
    const changed = JSON.stringify(next) !== JSON.stringify(this.facts);
    const first = this.facts.interfaces === undefined && this.facts.ipvs === undefined;
    this.facts = next;
    if (changed && !first) this.opts.onChanged(next);
  }
}
