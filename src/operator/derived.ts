// What a render derives from every VirtualIP besides the plan: the Services'
// load-balancer ingress, the Services and interfaces VirtualIPs name, and when
// the next claim runs out. Kept per VirtualIP and per Service, and brought up
// to date for the VirtualIPs the render touched and the Services that changed:
// a render that re-planned one VirtualIP looks at that one, not at all of them
// (ADR 0023). Pure but for the cache's change log of Services.
import type { VirtualIP } from "../api/index.js";
import { claimExpiresAt, compareIP, type ClusterPlan, type Problem } from "../render/index.js";
import type { ObjectCache } from "./cache.js";
import { isOurLoadBalancer, ownsIngress } from "./services.js";
import { CountedSet } from "../shared/counted-set.js";
import { keyOf } from "../shared/keys.js";

/** What a render derives from every VirtualIP. */
export interface Derived {
  /** Service key -> the load-balancer ingress IPs to publish, sorted (empty: give up the field this operator owns). Kept up to date in place. */
  ingress: ReadonlyMap<string, string[]>;
  /** When the next claim held by an unusable VirtualIP runs out (a render is due then). */
  claimExpiresAt: number | undefined;
  /** Services some valid VirtualIP names (their changes need a render); kept up to date in place. */
  referencedServices: ReadonlySet<string>;
  /** spec.interface of every valid VirtualIP; kept up to date in place. */
  referencedInterfaces: ReadonlySet<string>;
}

/** What one render gives the derivations. */
export interface DerivationInput {
  cache: ObjectCache;
  /** The valid VirtualIPs by key (the render's input). */
  vips: ReadonlyMap<string, VirtualIP>;
  plan: ClusterPlan;
  problems: ReadonlyMap<string, Problem[]>;
  /** The VirtualIPs whose plan entry, problems or object may have changed since the previous render ("all": unknown). */
  touched: ReadonlySet<string> | "all";
  claimGraceMs: number;
  now: number;
}

/** One VirtualIP's share of what is derived. */
interface Share {
  service: string;
  iface: string | undefined;
  /** The address it publishes as its Service's ingress: forwarding kube-proxy, planned into an instance, not left out. */
  publishes: string | undefined;
  /** Its claim's expiry plus 1 ms, while it holds a claim it cannot use. */
  expiresAt: number | undefined;
}

function shareOf(key: string, vip: VirtualIP, input: DerivationInput): Share {
  const ns = vip.metadata.namespace ?? "default";
  const entry = input.plan.virtualIPs[key];
  const leftOut = (input.problems.get(key) ?? []).some((p) => p.excluded);
  const publishes = vip.spec.forwarding === "kube-proxy" && entry?.instance !== undefined && !leftOut ? (entry.address ?? "") : undefined;
  const expires = claimExpiresAt(vip, input.claimGraceMs);
  const holds = expires !== undefined && !entry?.claimed && !entry?.claimVoid;
  return { service: keyOf(ns, vip.spec.serviceRef.name), iface: vip.spec.interface, publishes, expiresAt: holds ? expires + 1 : undefined };
}

/** The derivations of successive renders; a fresh instance derives everything (the reference the incremental path must equal). */
export class VirtualIPDerivations {
  private readonly shares = new Map<string, Share>();
  private readonly services = new CountedSet();
  private readonly interfaces = new CountedSet();
  /** Service key -> VirtualIP key -> the address it publishes. */
  private readonly publishers = new Map<string, Map<string, string>>();
  /** VirtualIP key -> expiry, for the VirtualIPs whose claim counts. */
  private readonly expiring = new Map<string, number>();
  private readonly ingress = new Map<string, string[]>();
  private primed = false;

  /** The next update derives everything again (a render that did not reach its update left what it changed unseen). */
  invalidate(): void {
    this.primed = false;
  }

  update(input: DerivationInput): Derived {
    input.cache.trackChanges("Service");
    const changedServices = input.cache.drainChanges("Service");
    const whole = !this.primed || input.touched === "all";
    this.primed = false;
    const dirtyServices = whole ? this.resetAll(input) : this.updateTouched(input, input.touched as ReadonlySet<string>);
    for (const s of changedServices) dirtyServices.add(s);
    for (const s of dirtyServices) this.deriveIngress(s, input.cache);
    this.primed = true;
    return {
      ingress: this.ingress,
      claimExpiresAt: this.nextExpiry(input.now),
      referencedServices: this.services.names,
      referencedInterfaces: this.interfaces.names,
    };
  }

  /** Every VirtualIP's share anew; returns every Service that may have an ingress. */
  private resetAll(input: DerivationInput): Set<string> {
    this.shares.clear();
    this.services.clear();
    this.interfaces.clear();
    this.publishers.clear();
    this.expiring.clear();
    this.ingress.clear();
    for (const [key, vip] of input.vips) this.setShare(key, shareOf(key, vip, input));
    const dirty = new Set(this.publishers.keys());
    for (const [key, svc] of input.cache.entries("Service")) if (ownsIngress(svc)) dirty.add(key);
    return dirty;
  }

  /** The touched VirtualIPs' shares anew; returns the Services whose publishers may have changed. */
  private updateTouched(input: DerivationInput, touched: ReadonlySet<string>): Set<string> {
    const dirty = new Set<string>();
    for (const key of touched) {
      const before = this.shares.get(key);
      const vip = input.vips.get(key);
      const after = vip ? shareOf(key, vip, input) : undefined;
      this.setShare(key, after);
      if (before?.publishes !== undefined) dirty.add(before.service);
      if (after?.publishes !== undefined) dirty.add(after.service);
    }
    return dirty;
  }

  private setShare(key: string, share: Share | undefined): void {
    const before = this.shares.get(key);
    if (before) {
      this.services.add(before.service, -1);
      this.interfaces.add(before.iface, -1);
      const list = this.publishers.get(before.service);
      list?.delete(key);
      if (list?.size === 0) this.publishers.delete(before.service);
      this.expiring.delete(key);
    }
    if (!share) {
      this.shares.delete(key);
      return;
    }
    this.shares.set(key, share);
    this.services.add(share.service, 1);
    this.interfaces.add(share.iface, 1);
    if (share.publishes !== undefined) {
      const list = this.publishers.get(share.service) ?? new Map<string, string>();
      list.set(key, share.publishes);
      this.publishers.set(share.service, list);
    }
    if (share.expiresAt !== undefined) this.expiring.set(key, share.expiresAt);
  }

  /**
   * One Service's ingress: the addresses its VirtualIPs publish when it is a
   * LoadBalancer of ours, merged and sorted; an empty list when this operator
   * owns the field but has nothing to publish (release it); none otherwise.
   */
  private deriveIngress(service: string, cache: ObjectCache): void {
    const svc = cache.get("Service", service);
    const ips: string[] = [];
    if (isOurLoadBalancer(svc)) for (const ip of this.publishers.get(service)?.values() ?? []) if (!ips.includes(ip)) ips.push(ip);
    if (ips.length > 0 || ownsIngress(svc)) this.ingress.set(service, ips.sort(compareIP));
    else this.ingress.delete(service);
  }

  private nextExpiry(now: number): number | undefined {
    let at: number | undefined;
    for (const t of this.expiring.values()) if (t > now && (at === undefined || t < at)) at = t;
    return at;
  }
}
