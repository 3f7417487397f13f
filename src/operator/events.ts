// Kubernetes Events on VirtualIPs: a repeat of the same Event within ten
// minutes bumps its count instead of creating another object. I/O (best effort: failures are logged).
import type { k8s, KubeClients } from "../kube/client.js";
import { describeError } from "../kube/client.js";
import { createEvent, patchEvent } from "../kube/objects.js";
import type { Clock } from "../shared/clock.js";
import type { Logger } from "../shared/logger.js";
import type { PlannedEvent } from "./status.js";

/** The object an Event is about. */
export interface InvolvedObject {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  uid?: string;
  resourceVersion?: string;
}

const AGGREGATE_MS = 10 * 60_000;

interface Recorded {
  name: string;
  count: number;
  at: number;
}

/** Builds a core/v1 Event (pure). Messages must never carry a secret. */
export function buildEvent(opts: {
  involved: InvolvedObject;
  event: PlannedEvent;
  component: string;
  host: string;
  now: number;
  seq: number;
}): k8s.CoreV1Event {
  const { involved, event, now } = opts;
  const ts = new Date(now);
  return {
    apiVersion: "v1",
    kind: "Event",
    metadata: { name: `${involved.name}.${now.toString(16)}${opts.seq.toString(16).padStart(4, "0")}`, namespace: involved.namespace },
    involvedObject: { ...involved },
    type: event.type,
    reason: event.reason,
    message: event.message,
    source: { component: opts.component, host: opts.host },
    reportingComponent: opts.component,
    reportingInstance: opts.host,
    firstTimestamp: ts,
    lastTimestamp: ts,
    count: 1,
  };
}

/** Records Events; keeps what it created recently to aggregate repeats. */
export class EventRecorder {
  private readonly recent = new Map<string, Recorded>();
  private seq = 0;

  constructor(private readonly opts: { clients: KubeClients; clock: Clock; logger: Logger; component: string; host: string }) {}

  /** Records `events` on `involved`; never throws. */
  async record(involved: InvolvedObject, events: readonly PlannedEvent[]): Promise<void> {
    for (const event of events) await this.recordOne(involved, event);
  }

  private async recordOne(involved: InvolvedObject, event: PlannedEvent): Promise<void> {
    const { clients, clock, logger } = this.opts;
    const now = clock.now();
    const key = `${involved.uid ?? `${involved.namespace}/${involved.name}`}\u0000${event.type}\u0000${event.reason}\u0000${event.message}`;
    this.prune(now);
    const prev = this.recent.get(key);
    try {
      if (prev) {
        await patchEvent(clients, { namespace: involved.namespace, name: prev.name }, { count: prev.count + 1, lastTimestamp: new Date(now).toISOString() });
        this.recent.set(key, { name: prev.name, count: prev.count + 1, at: now });
        return;
      }
      const body = buildEvent({ involved, event, component: this.opts.component, host: this.opts.host, now, seq: this.seq++ });
      await createEvent(clients, body);
      this.recent.set(key, { name: body.metadata.name ?? "", count: 1, at: now });
    } catch (err) {
      if (prev) this.recent.delete(key);
      logger.warn("Failed to record an Event", { object: `${involved.namespace}/${involved.name}`, reason: event.reason, error: describeError(err) });
    }
  }

  private prune(now: number): void {
    for (const [k, r] of this.recent) if (now - r.at > AGGREGATE_MS) this.recent.delete(k);
  }
}
