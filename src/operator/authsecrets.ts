// The VRRP auth Secrets that VirtualIPs reference, read on demand (get only:
// the operator may not list or watch Secrets cluster-wide) and re-read every minute. I/O.
import type { V1Secret } from "@kubernetes/client-node";
import { describeError } from "../kube/client.js";
import type { Clock } from "../shared/clock.js";
import type { Logger } from "../shared/logger.js";
import type { SecretReader } from "./writer.js";
import { splitKey } from "../shared/keys.js";

/** How long a read auth Secret is used before it is read again. */
export const AUTH_SECRET_REFRESH_MS = 60_000;

interface Held {
  secret?: V1Secret;
  /** resourceVersion of what we hold ("" when missing), to see a change. */
  version: string;
  readAt: number;
}

/** Referenced auth Secrets, keyed by "namespace/name". Never logs a value. */
export class AuthSecrets {
  private readonly held = new Map<string, Held>();

  constructor(private readonly opts: { read: SecretReader; clock: Clock; logger: Logger }) {}

  /**
   * Reads the referenced Secrets not held yet or held for longer than the
   * refresh period, and forgets unreferenced ones. Resolves true when what
   * the renderer would see changed.
   */
  async refresh(refs: ReadonlySet<string>): Promise<boolean> {
    let changed = false;
    for (const key of [...this.held.keys()]) {
      if (!refs.has(key)) {
        this.held.delete(key);
        changed = true;
      }
    }
    const now = this.opts.clock.now();
    const due = [...refs].filter((k) => {
      const h = this.held.get(k);
      return !h || now - h.readAt >= AUTH_SECRET_REFRESH_MS;
    });
    await Promise.all(due.map(async (key) => (changed = (await this.read(key, now)) || changed)));
    return changed;
  }

  private async read(key: string, now: number): Promise<boolean> {
    const { namespace, name } = splitKey(key);
    const prev = this.held.get(key);
    try {
      const secret = await this.opts.read({ namespace, name });
      const version = secret?.metadata?.resourceVersion ?? "";
      this.held.set(key, secret ? { secret, version, readAt: now } : { version, readAt: now });
      return prev?.version !== version;
    } catch (err) {
      this.opts.logger.warn("Failed to read a VRRP auth Secret", { secret: key, error: describeError(err) });
      this.held.set(key, { ...(prev ?? { version: "" }), readAt: now });
      return prev === undefined;
    }
  }

  /** When the next held Secret is due for a re-read, if any. */
  nextRefreshAt(): number | undefined {
    let at: number | undefined;
    for (const h of this.held.values()) at = Math.min(at ?? Infinity, h.readAt + AUTH_SECRET_REFRESH_MS);
    return at;
  }

  /** The Secrets held now (for the renderer). */
  secrets(): V1Secret[] {
    return [...this.held.values()].flatMap((h) => (h.secret ? [h.secret] : []));
  }
}
