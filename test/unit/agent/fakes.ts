// Small fakes of the agent's I/O seams (src/agent/ports.ts) for unit tests:
// the API server, the runtime directory, keepalived, iproute2, track files,
// the notify FIFO. Every call that matters lands in one ordered `log`.
import {
  ANNOTATION_INSTANCE,
  SECRET_KEY_INSTANCE,
  SECRET_KEY_NODE,
  instanceSecretName,
  nodeConfigSecretName,
  type NodeInstance,
  type NodeInstanceMap,
  type NodeStatus,
  type PublishedInstance,
  type PublishedNode,
} from "../../../src/api/index.js";
import type { ObservedSecret, SecretEventType, SecretWatch } from "../../../src/kube/agent-io.js";
import type { ConfigTestVerdict, RunningConfig } from "../../../src/agent/config.js";
import type { InstancePart, InstanceParts } from "../../../src/agent/isolate.js";
import type { SupervisorPhase } from "../../../src/agent/keepalived.js";
import type { LinkAddresses } from "../../../src/agent/ip.js";
import type { AgentIO, KeepalivedControl, KeepalivedHooks, VirtualIPName } from "../../../src/agent/ports.js";
import type { HealthCheck } from "../../../src/shared/health-server.js";

export const NODE = "node-a";
const b64 = (s: string): string => Buffer.from(s, "utf8").toString("base64");

/** The node Secret of `instances` on NODE (eth0, priority 100, unicast from 192.0.2.11). */
export function nodeSecret(instances: string[], over: Partial<PublishedNode> = {}): ObservedSecret {
  const published: PublishedNode = {
    node: NODE,
    runtimeDir: "/run/keepalived-vip",
    instances: instances.map((i) => ({ instance: i, interface: "eth0", priority: 100, sourceIP: "192.0.2.11" })),
    ...over,
  };
  return { name: nodeConfigSecretName(NODE), resourceVersion: "1", data: { [SECRET_KEY_NODE]: b64(JSON.stringify(published)) }, annotations: {} };
}

/** The instance Secret of a published instance. */
export function instanceSecret(inst: PublishedInstance): ObservedSecret {
  return {
    name: instanceSecretName(inst.name),
    resourceVersion: "1",
    data: { [SECRET_KEY_INSTANCE]: b64(JSON.stringify(inst)) },
    annotations: { [ANNOTATION_INSTANCE]: inst.name },
  };
}

/** A status write as the fake API server saw it. */
export interface StatusWrite {
  key: string;
  entry?: NodeStatus;
}

/** keepalived as a fake: a phase, and the hooks the agent gave it. */
export class FakeKeepalived implements KeepalivedControl {
  phase: SupervisorPhase = "idle";
  hooks?: KeepalivedHooks;
  starts = 0;
  reloads = 0;

  constructor(private readonly log: string[]) {}

  async start(): Promise<void> {
    if (this.phase !== "idle") return;
    await this.hooks?.beforeStart();
    this.starts++;
    this.phase = "running";
    this.log.push("keepalived:start");
    this.hooks?.onStarted();
  }

  async reload(): Promise<"reloaded" | "started" | "deferred"> {
    if (this.phase === "idle") {
      await this.start();
      return "started";
    }
    if (this.phase !== "running") return "deferred";
    this.reloads++;
    this.log.push("keepalived:reload");
    return "reloaded";
  }

  hangup(): Promise<boolean> {
    return Promise.resolve(this.phase === "running");
  }

  stop(): Promise<void> {
    this.phase = "stopped";
    this.log.push("keepalived:stop");
    return Promise.resolve();
  }

  /** keepalived exits unexpectedly: what the supervisor does before its backoff. */
  async crash(): Promise<void> {
    this.phase = "backoff";
    this.log.push("keepalived:exited");
    await this.hooks?.onUnexpectedExit();
  }
}

/** Every seam of an agent, faked, with what happened on each. */
export class FakeIO {
  readonly log: string[] = [];
  readonly statusWrites: StatusWrite[] = [];
  readonly events: Array<{ key: string; reason: string; message: string }> = [];
  readonly leases: Array<{ at: number; annotations: Record<string, string> }> = [];
  readonly installed: string[] = [];
  readonly keepalived = new FakeKeepalived(this.log);
  running: RunningConfig = {};
  links: LinkAddresses[] = [{ name: "eth0", addresses: [{ address: "192.0.2.11", prefixLength: 24, family: 4 }] }];
  configTest: (config: string) => ConfigTestVerdict = () => ({ ok: true, problems: [] });
  /** Set to make the status writes fail (an API outage). */
  statusDown = false;
  health?: { healthz: Record<string, HealthCheck>; readyz: Record<string, HealthCheck> };
  nodeWatch?: { onChange(secret: ObservedSecret | undefined): void };
  instanceWatch?: { onList(secrets: ObservedSecret[]): void; onEvent(type: SecretEventType, secret: ObservedSecret): void };
  fifoLine?: (line: string, at: number) => void;
  /** What the handover track file holds. */
  handover = false;

  /** The AgentIO the agent is given. */
  io(): AgentIO {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the track file fake's getter reads this object
    const fake = this;
    const watch = (): SecretWatch => ({ stop: () => undefined, retryNow: () => undefined, health: () => ({ ok: true }) });
    return {
      kube: {
        applyStatusEntry: (ref: VirtualIPName, entry) => {
          if (this.statusDown) return Promise.reject(new Error("connection refused"));
          this.statusWrites.push({ key: `${ref.namespace}/${ref.name}`, ...(entry ? { entry } : {}) });
          this.log.push(`status:${ref.namespace}/${ref.name}=${entry?.state ?? "removed"}`);
          return Promise.resolve(`uid-${ref.name}`);
        },
        recordWarning: (ev) => {
          this.events.push({ key: `${ev.ref.namespace}/${ev.ref.name}`, reason: ev.reason, message: ev.message });
          return Promise.resolve();
        },
        applyLease: (annotations, now) => {
          this.leases.push({ at: now, annotations });
          return Promise.resolve();
        },
        watchNodeSecret: (on) => ((this.nodeWatch = on), watch()),
        watchInstanceSecrets: (on) => ((this.instanceWatch = on), watch()),
      },
      files: {
        ensureDir: () => Promise.resolve(),
        readRunning: () => Promise.resolve(this.running),
        readAccepted: () => Promise.resolve(new Map<string, InstancePart>()),
        test: (config) => Promise.resolve(this.configTest(config)),
        install: (i: { config: string; instances: NodeInstanceMap; parts: InstanceParts }) => {
          this.installed.push(i.config);
          this.log.push("files:install");
          return Promise.resolve();
        },
        installInstances: () => Promise.resolve(),
      },
      links: { readInterfaces: () => Promise.resolve(this.links), ipvsAvailable: () => Promise.resolve(true) },
      leftovers: {
        beforeStart: () => Promise.resolve([]),
        cleanup: (instances: readonly NodeInstance[]) => {
          this.log.push(`leftovers:cleanup=${instances.map((i) => i.instance).join(",")}`);
          return Promise.resolve(instances.map((i) => ({ address: i.addresses[0] ?? "", prefixLength: 32, interface: i.interface })));
        },
      },
      trackFiles: {
        write: (values) => {
          this.log.push(`track:write handover=${values.get("handover") ?? "?"}`);
          return Promise.resolve([]);
        },
        setHandover: (on) => {
          this.log.push(`track:handover=${on ? 1 : 0}`);
          const changed = this.handover !== on;
          this.handover = on;
          return Promise.resolve(changed);
        },
        get handover() {
          return fake.handover;
        },
      },
      keepalived: (hooks) => ((this.keepalived.hooks = hooks), this.keepalived),
      fifo: (on) => {
        this.fifoLine = (line, at) => on.onLine(line, at);
        return { start: () => Promise.resolve(), check: () => Promise.resolve(), close: () => undefined };
      },
      vrrpPid: () => Promise.resolve(undefined),
      serveHealth: (checks) => {
        this.health = checks;
        return Promise.resolve({ close: () => Promise.resolve() });
      },
    };
  }

  /** Both watches list: the node Secret and the instance Secrets. */
  publish(node: ObservedSecret | undefined, instances: ObservedSecret[]): void {
    this.nodeWatch?.onChange(node);
    this.instanceWatch?.onList(instances);
  }
}
