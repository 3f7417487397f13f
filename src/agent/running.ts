// What the agent tells the operator it runs, for deletions to wait on (ADR
// 0017): the addresses of the applied instance map, plus addresses that left
// it but were still seen on an interface. Pure apart from the link reader it
// is given.
import type { NodeInstanceMap } from "../api/index.js";
import { encodeRunningSet, newRunningSetSalt } from "../shared/running-set.js";
import type { LinkAddresses } from "./ip.js";

/** The addresses a node runs, and those it has stopped running but not yet seen go. */
export class RunningAddresses {
  private current = new Set<string>();
  /** Addresses no longer configured that may still sit on an interface. */
  private leaving = new Set<string>();
  /** The last annotation, until either set changes (encoding 10,000 addresses takes tens of ms). */
  private text?: string;

  constructor(private readonly salt = newRunningSetSalt()) {}

  /** Adopts the instance map keepalived now runs. */
  setApplied(map: NodeInstanceMap | undefined): void {
    const next = new Set((map?.instances ?? []).flatMap((i) => i.addresses));
    for (const a of this.current) if (!next.has(a)) this.leaving.add(a);
    for (const a of next) this.leaving.delete(a);
    this.current = next;
    this.text = undefined;
  }

  /** Whether some address has left the config without being seen gone yet. */
  get settling(): boolean {
    return this.leaving.size > 0;
  }

  /** Forgets leaving addresses that no interface carries as a /32 or /128 any more. */
  settle(links: readonly LinkAddresses[]): void {
    const present = new Set(links.flatMap((l) => l.addresses.filter((a) => a.prefixLength === (a.family === 4 ? 32 : 128)).map((a) => a.address)));
    for (const a of [...this.leaving]) {
      if (present.has(a)) continue;
      this.leaving.delete(a);
      this.text = undefined;
    }
  }

  /** The annotation value (see src/shared/running-set.ts). */
  annotation(): string {
    this.text ??= encodeRunningSet(this.salt, [...this.current, ...this.leaving]);
    return this.text;
  }
}
