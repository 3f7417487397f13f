// keepalived notify FIFO lines -> events, and the fold of events into the
// per-instance VRRP state the agent reports. Pure.

/** A VRRP state as keepalived names it on the FIFO, STOP spelled as the API's STOPPED. */
export type InstanceVrrpState = "MASTER" | "BACKUP" | "FAULT" | "STOPPED";

/**
 * One FIFO line, or an event the agent synthesises itself.
 *
 * keepalived 2.2.7 writes `INSTANCE "<name>" <STATE> <priority>` with STATE one of
 * MASTER, BACKUP, FAULT, STOP (and, in later versions, DELETED), the events
 * MASTER_RX_LOWER_PRI, MASTER_PRIORITY and BACKUP_PRIORITY, and
 * `GROUP "<name>" <STATE> 0` for sync groups.
 */
export type NotifyEvent =
  /** The instance entered a state. */
  | { kind: "state"; instance: string; state: InstanceVrrpState; priority: number }
  /** The effective priority changed (MASTER_PRIORITY / BACKUP_PRIORITY). */
  | { kind: "priority"; instance: string; state: "MASTER" | "BACKUP"; priority: number }
  /** A master saw an advert with a lower priority (informational). */
  | { kind: "lower-priority-advert"; instance: string; priority: number }
  /** The instance was removed by a reload. */
  | { kind: "deleted"; instance: string }
  /** A sync group entered a state (informational: the agent reports instances). */
  | { kind: "group"; group: string; state: InstanceVrrpState }
  /** Synthetic: every known instance is now in `state` (keepalived died: FAULT; agent stopped: STOPPED). */
  | { kind: "all"; state: InstanceVrrpState }
  /**
   * Synthetic: a config was applied or the track files changed; only these
   * instances exist, with these effective priorities (configured, lowered by
   * the handover track file: placement.ts).
   */
  | { kind: "configured"; priorities: Readonly<Record<string, number>> };

const LINE = /^(INSTANCE|GROUP) "([^"]*)" ([A-Z_]+) (\d{1,3})$/;

const STATES: Record<string, InstanceVrrpState> = { MASTER: "MASTER", BACKUP: "BACKUP", FAULT: "FAULT", STOP: "STOPPED" };

/** Parses one notify FIFO line; undefined for anything that is not a VRRP instance or group line. */
export function parseNotifyLine(line: string): NotifyEvent | undefined {
  const m = LINE.exec(line.trim());
  if (!m) return undefined;
  const [, type, name = "", word = "", prio = "0"] = m;
  const priority = Number(prio);
  if (name === "" || priority > 255) return undefined;
  const state = STATES[word];
  if (type === "GROUP") return state ? { kind: "group", group: name, state } : undefined;
  if (state) return { kind: "state", instance: name, state, priority };
  switch (word) {
    case "MASTER_PRIORITY":
      return { kind: "priority", instance: name, state: "MASTER", priority };
    case "BACKUP_PRIORITY":
      return { kind: "priority", instance: name, state: "BACKUP", priority };
    case "MASTER_RX_LOWER_PRI":
      return { kind: "lower-priority-advert", instance: name, priority };
    case "DELETED":
      return { kind: "deleted", instance: name };
    default:
      return undefined;
  }
}

/** What the agent knows about one VRRP instance on this node. */
export interface InstanceState {
  state: InstanceVrrpState;
  priority: number;
  /** Epoch ms when the instance entered `state`. */
  since: number;
}

/** Instance name -> state. Never mutated: every fold returns a new object (or the same one when nothing changed). */
export type InstanceStates = Readonly<Record<string, InstanceState>>;

function put(states: InstanceStates, instance: string, next: InstanceState): InstanceStates {
  const cur = states[instance];
  if (cur && cur.state === next.state && cur.priority === next.priority && cur.since === next.since) return states;
  return { ...states, [instance]: next };
}

function enter(states: InstanceStates, instance: string, next: { state: InstanceVrrpState; priority: number }, now: number): InstanceStates {
  const cur = states[instance];
  const since = cur && cur.state === next.state ? cur.since : now;
  return put(states, instance, { ...next, since });
}

/**
 * Folds one event into the instance states. `since` changes only when the state
 * changes; the same state with another priority keeps its `since`.
 */
export function foldState(states: InstanceStates, event: NotifyEvent, now: number): InstanceStates {
  switch (event.kind) {
    case "state":
    case "priority":
      return enter(states, event.instance, { state: event.state, priority: event.priority }, now);
    case "deleted": {
      if (!(event.instance in states)) return states;
      const { [event.instance]: _gone, ...rest } = states;
      return rest;
    }
    case "all": {
      let next = states;
      for (const [name, cur] of Object.entries(states)) next = enter(next, name, { state: event.state, priority: cur.priority }, now);
      return next;
    }
    case "configured": {
      const next: Record<string, InstanceState> = {};
      for (const [name, cur] of Object.entries(states)) {
        const priority = event.priorities[name];
        if (priority !== undefined) next[name] = cur.priority === priority ? cur : { ...cur, priority };
      }
      const same = Object.keys(next).length === Object.keys(states).length && Object.entries(next).every(([n, s]) => states[n] === s);
      return same ? states : next;
    }
    case "lower-priority-advert":
    case "group":
      return states;
  }
}

/** Instances whose state differs between two folds (for the transitions metric). */
export function changedInstances(before: InstanceStates, after: InstanceStates): Array<{ instance: string; from?: InstanceVrrpState; to: InstanceVrrpState }> {
  const out: Array<{ instance: string; from?: InstanceVrrpState; to: InstanceVrrpState }> = [];
  for (const [instance, s] of Object.entries(after)) {
    const prev = before[instance];
    if (!prev || prev.state !== s.state) out.push({ instance, from: prev?.state, to: s.state });
  }
  return out.sort((a, b) => a.instance.localeCompare(b.instance));
}
