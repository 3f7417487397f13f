// The agent's I/O seams: what its modules need from the API server, from
// keepalived, from iproute2, from the runtime directory and from the notify
// FIFO. Interfaces only; io.ts implements them for real, tests with fakes.
import type { NodeInstance, NodeInstanceMap, NodeStatus } from "../api/index.js";
import type { ObservedSecret, SecretEventType, SecretWatch } from "../kube/agent-io.js";
import type { HealthCheck } from "../shared/health-server.js";
import type { ConfigTestVerdict, RunningConfig } from "./config.js";
import type { AddressOnLink, LinkAddresses } from "./ip.js";
import type { RemovalReason } from "./ip-io.js";
import type { InstancePart, InstanceParts } from "./isolate.js";
import type { SupervisorPhase } from "./keepalived.js";
import type { TrackValues } from "./placement.js";

/** A VirtualIP by namespace and name. */
export interface VirtualIPName {
  namespace: string;
  name: string;
}

/** The API server as one node's agent uses it: its writes and the two watches of the published plan. */
export interface AgentKube {
  /** Server-side applies this node's entry of a VirtualIP's status.nodes (undefined: removes it); resolves to the VirtualIP's uid when known. */
  applyStatusEntry(ref: VirtualIPName, entry: NodeStatus | undefined): Promise<string | undefined>;
  /** Records a Warning Event on a VirtualIP. */
  recordWarning(ev: { ref: VirtualIPName; uid?: string; reason: string; message: string; now: number }): Promise<void>;
  /** Renews the node's heartbeat Lease with these annotations. */
  applyLease(annotations: Record<string, string>, now: number): Promise<void>;
  /** Watches the node's own Secret (node.json). */
  watchNodeSecret(on: { onChange(secret: ObservedSecret | undefined): void; onError(err: unknown, retryInMs: number): void }): SecretWatch;
  /** Watches the instance Secrets (instance.json). */
  watchInstanceSecrets(on: {
    onList(secrets: ObservedSecret[]): void;
    onEvent(type: SecretEventType, secret: ObservedSecret): void;
    onError(err: unknown, retryInMs: number): void;
  }): SecretWatch;
}

/** The runtime directory's config files and keepalived --config-test. */
export interface ConfigFiles {
  ensureDir(): Promise<void>;
  readRunning(): Promise<RunningConfig>;
  readAccepted(): Promise<Map<string, InstancePart>>;
  test(config: string): Promise<ConfigTestVerdict>;
  install(installed: { config: string; instances: NodeInstanceMap; parts: InstanceParts }): Promise<void>;
  installInstances(installed: { instances: NodeInstanceMap; parts: InstanceParts }): Promise<void>;
}

/** What the node has: its interfaces and whether the kernel has IPVS. */
export interface NodeLinks {
  readInterfaces(): Promise<LinkAddresses[]>;
  ipvsAvailable(): Promise<boolean>;
}

/** The addresses keepalived added: snapshot before each start, removal after it died or handed over. */
export interface LeftoverCleaner {
  beforeStart(instances: readonly NodeInstance[]): Promise<unknown>;
  cleanup(instances: readonly NodeInstance[], reason?: RemovalReason): Promise<AddressOnLink[]>;
}

/** The track files keepalived follows without a reload (docs/adr/0018). */
export interface TrackFileWriter {
  write(values: TrackValues): Promise<string[]>;
  setHandover(on: boolean): Promise<boolean>;
  /** Whether the handover file holds 1 (keepalived runs every instance at the lowest priority). */
  readonly handover: boolean;
}

/** keepalived as the agent's child process (KeepalivedSupervisor). */
export interface KeepalivedControl {
  readonly phase: SupervisorPhase;
  start(): Promise<void>;
  reload(): Promise<"reloaded" | "started" | "deferred">;
  /** SIGHUP without a new config; false when none runs. */
  hangup(): Promise<boolean>;
  stop(): Promise<void>;
}

/** What the agent does around keepalived's life. */
export interface KeepalivedHooks {
  onUnexpectedExit(): Promise<void>;
  onStarted(): void;
  beforeStart(): Promise<void>;
}

/** The notify FIFO reader. */
export interface NotifyFifo {
  start(): Promise<void>;
  /** Reopens at once when the path no longer names the FIFO being read. */
  check(): Promise<void>;
  close(): void;
}

/** Every I/O seam of one agent. */
export interface AgentIO {
  kube: AgentKube;
  files: ConfigFiles;
  links: NodeLinks;
  leftovers: LeftoverCleaner;
  trackFiles: TrackFileWriter;
  keepalived(hooks: KeepalivedHooks): KeepalivedControl;
  fifo(on: { onLine(line: string, at: number): void; onRecreated(): void }): NotifyFifo;
  /** keepalived's VRRP process, when it runs. */
  vrrpPid(): Promise<number | undefined>;
  /** Serves /metrics, /healthz and /readyz until closed. */
  serveHealth(checks: { healthz: Record<string, HealthCheck>; readyz: Record<string, HealthCheck> }): Promise<{ close(): Promise<void> }>;
}
