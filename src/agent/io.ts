// The agent's I/O seams (ports.ts) as they run on a node: the API server
// through src/kube, keepalived as a child process, iproute2, the runtime
// directory and the notify FIFO. I/O.
import { COMPONENT_INSTANCE_CONFIG, LABEL_COMPONENT, agentLeaseName, nodeConfigSecretName } from "../api/index.js";
import type { KubeClients } from "../kube/client.js";
import { applyHeartbeatLease, applyNodeStatusEntry, createVirtualIPEvent, watchSecretByName, watchSecrets } from "../kube/agent-io.js";
import type { Clock } from "../shared/clock.js";
import { startHealthServer } from "../shared/health-server.js";
import type { Logger } from "../shared/logger.js";
import type { Registry } from "prom-client";
import { NotifyFifoReader } from "./fifo.js";
import { readVrrpPid } from "./handover.js";
import { readInterfaces } from "./ip-io.js";
import { KeepalivedSupervisor } from "./keepalived.js";
import { LeftoverTracker } from "./leftovers.js";
import { TrackFiles } from "./placement.js";
import type { AgentSettings } from "./agent.js";
import type { AgentIO, AgentKube, ConfigFiles } from "./ports.js";
import {
  ensureRuntimeDir,
  installConfig,
  installInstances,
  ipvsAvailable,
  readAcceptedParts,
  readRunningConfig,
  runtimePaths,
  testCandidateConfig,
  type RuntimePaths,
} from "./runtime.js";

/** Reporting component name in Events and logs. */
export const AGENT_COMPONENT = "keepalived-vip-agent";

/** Label selector of the instance Secrets (instance.json) in the agent's namespace. */
export const INSTANCE_SECRETS_SELECTOR = `${LABEL_COMPONENT}=${COMPONENT_INSTANCE_CONFIG}`;

/** What the real I/O of one agent needs: its settings (but the heartbeat interval) and the clients. */
export interface NodeIOOptions extends Omit<AgentSettings, "heartbeatIntervalMs"> {
  clients: KubeClients;
  logger: Logger;
  clock: Clock;
  registry: Registry;
}

/** The API server through src/kube, for one node. */
export function kubeForNode(o: Pick<NodeIOOptions, "clients" | "node" | "namespace" | "leaseDurationSeconds" | "clock">): AgentKube {
  const { clients, node, namespace, clock } = o;
  return {
    applyStatusEntry: (ref, entry) => applyNodeStatusEntry(clients, ref, node, entry),
    recordWarning: (ev) => createVirtualIPEvent(clients, { ...ev, type: "Warning", component: AGENT_COMPONENT, node }),
    applyLease: (annotations, now) =>
      applyHeartbeatLease(clients, { namespace, name: agentLeaseName(node), node, leaseDurationSeconds: o.leaseDurationSeconds, annotations, now }),
    watchNodeSecret: (on) => watchSecretByName(clients, { namespace, name: nodeConfigSecretName(node), ...on, clock }),
    watchInstanceSecrets: (on) => watchSecrets(clients, { namespace, labelSelector: INSTANCE_SECRETS_SELECTOR, ...on, clock }),
  };
}

/** The runtime directory's files and the real keepalived --config-test. */
export function runtimeFiles(paths: RuntimePaths, keepalivedPath: string): ConfigFiles {
  return {
    ensureDir: () => ensureRuntimeDir(paths),
    readRunning: () => readRunningConfig(paths),
    readAccepted: () => readAcceptedParts(paths),
    test: (config) => testCandidateConfig(paths, config, { keepalivedPath }),
    install: (installed) => installConfig(paths, installed),
    installInstances: (installed) => installInstances(paths, installed),
  };
}

/** Every seam of one agent, for real. */
export function nodeIO(o: NodeIOOptions): AgentIO {
  const paths = runtimePaths(o.runtimeDir);
  return {
    kube: kubeForNode(o),
    files: runtimeFiles(paths, o.keepalivedPath),
    links: { readInterfaces: () => readInterfaces(), ipvsAvailable },
    leftovers: new LeftoverTracker({ file: paths.addressSnapshot, logger: o.logger, ...(o.hostIP !== undefined ? { hostIP: o.hostIP } : {}) }),
    trackFiles: new TrackFiles(o.runtimeDir),
    keepalived: (hooks) => new KeepalivedSupervisor({ keepalivedPath: o.keepalivedPath, paths, logger: o.logger, clock: o.clock, ...hooks }),
    fifo: (on) => new NotifyFifoReader({ path: paths.fifo, logger: o.logger, clock: o.clock, ...on }),
    vrrpPid: () => readVrrpPid(paths.vrrpPid),
    serveHealth: (checks) => startHealthServer({ bindAddress: o.metricsBindAddress, registry: o.registry, ...checks, logger: o.logger }),
  };
}
