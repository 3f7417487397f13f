// The operator process: clients, watches into the cache, the initial sync,
// leader election, the reconciler and the health server, wired together. I/O.
import { hostname } from "node:os";
import { ANNOTATION_FINALIZER_POLICY, DAEMONSET_NAME, FINALIZER_POLICY_OPEN, GROUP, LEADER_LEASE_NAME, PLURAL, POOL_PLURAL, VERSION } from "../api/index.js";
import { createKubeClients, type KubeClients } from "../kube/client.js";
import { kubeClusterWriter } from "../kube/cluster-writer.js";
import { kubeFinalizerGateIO } from "../kube/finalizer-policy.js";
import { rawKey, startWatches, type RawObject, type RestartKind, type WatchEventType, type WatchSet, type WatchTarget } from "../kube/watch.js";
import { realClock, type Clock } from "../shared/clock.js";
import { startHealthServer, type HealthServer } from "../shared/health-server.js";
import type { Logger } from "../shared/logger.js";
import { ObjectCache, type Kind } from "./cache.js";
import { EventRecorder } from "./events.js";
import { FinalizerGate, type FinalizerGatePort } from "./finalizer-gate.js";
import { LeaderElector, apiLeaseStore } from "./leader.js";
import { createOperatorMetrics, type OperatorMetrics } from "./metrics.js";
import { CONFIG_SECRETS_SELECTOR } from "./nodesecrets.js";
import type { OperatorConfig } from "./options.js";
import { Reconciler } from "./reconciler.js";
import { RenderWorker } from "./render-worker.js";
import type { ClusterWriter } from "./writer.js";

/** The watches of the operator, each with the cache kind it feeds. */
export function operatorWatchTargets(namespace: string, planNamespace: string = namespace): (WatchTarget & { name: Kind })[] {
  return [
    { name: "VirtualIP", group: GROUP, version: VERSION, plural: PLURAL },
    { name: "VirtualIPPool", group: GROUP, version: VERSION, plural: POOL_PLURAL },
    { name: "Namespace", group: "", version: "v1", plural: "namespaces" },
    { name: "ServiceCIDR", group: "networking.k8s.io", version: "v1", plural: "servicecidrs" },
    { name: "Service", group: "", version: "v1", plural: "services" },
    { name: "EndpointSlice", group: "discovery.k8s.io", version: "v1", plural: "endpointslices" },
    { name: "Node", group: "", version: "v1", plural: "nodes" },
    { name: "Lease", group: "coordination.k8s.io", version: "v1", plural: "leases", namespace: planNamespace },
    { name: "Secret", group: "", version: "v1", plural: "secrets", namespace: planNamespace, labelSelector: CONFIG_SECRETS_SELECTOR },
    { name: "DaemonSet", group: "apps", version: "v1", plural: "daemonsets", namespace, fieldSelector: `metadata.name=${DAEMONSET_NAME}` },
  ];
}

/** Default leader-election identity: hostname and pid. */
export function defaultIdentity(): string {
  return `${hostname()}_${process.pid}`;
}

export interface StartOperatorOptions {
  config: OperatorConfig;
  logger: Logger;
  clock?: Clock;
}

/** A running operator. */
export interface OperatorHandle {
  metrics: OperatorMetrics;
  reconciler: Reconciler;
  cache: ObjectCache;
  clients: KubeClients;
  health: HealthServer;
  /** Resolves once the cache holds every watched object. */
  synced: Promise<void>;
  /** The list+watches feeding the cache. */
  watches: WatchSet;
  /**
   * Graceful stop: stops writing, lets running writes finish, releases the
   * leader Lease (so another replica takes over at once), stops the watches
   * and closes the health server.
   */
  stop(): Promise<void>;
}

/** Starts the operator: health server, watches, sync, leader election, reconciler. */
export async function startOperator(opts: StartOperatorOptions): Promise<OperatorHandle> {
  const { config, logger } = opts;
  const clock = opts.clock ?? realClock;
  const metrics = createOperatorMetrics();
  const clients = createKubeClients({
    ...(config.kubeconfig ? { kubeconfig: config.kubeconfig } : {}),
    onWrite: (verb, resource) => metrics.writes.inc({ verb, resource }),
  });
  const cache = new ObjectCache();
  const events = new EventRecorder({ clients, clock, logger, component: "keepalived-vip-operator", host: config.identity });
  const renderer = config.renderThread === "worker" ? new RenderWorker() : undefined;
  const kube = kubeClusterWriter(clients);
  const writer: ClusterWriter = { ...kube, recordEvents: (involved, list) => events.record(involved, list) };
  const reconciler = new Reconciler({
    config,
    writer,
    readSecret: (ref) => kube.readSecret(ref),
    cache,
    clock,
    logger,
    metrics,
    ...(renderer ? { render: renderer.render } : {}),
  });

  const started = clock.now();
  const watches = watchIntoCache({ clients, config, logger, clock, metrics, cache, reconciler });
  const health = await serveHealth({ config, logger, metrics, reconciler, watches });

  const synced = watches.synced.then(() => {
    logger.info("Synced the cache", {
      ms: clock.now() - started,
      virtualIPs: cache.size("VirtualIP"),
      nodes: cache.size("Node"),
      services: cache.size("Service"),
    });
    reconciler.markSynced();
  });
  const leading = whileLeading(reconciler, finalizerGate({ clients, config, logger, clock, cache }));
  const elector = config.leaderElect ? electLeader({ clients, config, logger, clock, reconciler, watches, leading }) : undefined;
  if (!elector) leading.start();

  return {
    metrics,
    reconciler,
    cache,
    clients,
    health,
    synced,
    watches,
    async stop() {
      leading.stop();
      await reconciler.queue.shutDown();
      await elector?.release();
      watches.stop();
      await health.close();
      await renderer?.close();
    },
  };
}

interface Wiring {
  clients: KubeClients;
  config: OperatorConfig;
  logger: Logger;
  clock: Clock;
  reconciler: Reconciler;
}

/** The list+watches that feed the cache, every change handed to the reconciler. */
function watchIntoCache(w: Wiring & { metrics: OperatorMetrics; cache: ObjectCache }): WatchSet {
  const { cache, reconciler, logger } = w;
  const targets = operatorWatchTargets(w.config.namespace, w.config.planNamespace);
  const onEvent = (t: WatchTarget, type: WatchEventType, obj: RawObject): void => {
    const kind = t.name as Kind;
    const change = type === "DELETED" ? cache.remove(kind, rawKey(obj), obj) : cache.put(kind, obj);
    if (change) reconciler.onChange(change);
  };
  const onRestart = (t: WatchTarget, how: RestartKind): void => w.metrics.watchRestarts.inc({ resource: t.name, how });
  // A relist delivers the deletions its watch missed; the sweep also drops what only our own writes had put in the cache.
  const listSince = new Map<string, number>();
  const onListStart = (t: WatchTarget): void => void listSince.set(t.name, cache.currentSeq);
  const onListed = (t: WatchTarget, keys: ReadonlySet<string>): void => {
    const removed = cache.sweep(t.name as Kind, keys, listSince.get(t.name) ?? 0);
    for (const change of removed) reconciler.onChange(change);
    if (removed.length > 0) logger.info("Dropped objects a relist no longer shows", { resource: t.name, count: removed.length });
  };
  // Liveness is judged on agent Leases only while their watch is current (ADR 0011).
  const onHealthChange = (t: WatchTarget, ok: boolean): void => (t.name === "Lease" ? reconciler.onLeaseWatch(ok) : undefined);
  return startWatches({ kc: w.clients.kc, targets, logger, clock: w.clock, onEvent, onRestart, onListStart, onListed, onHealthChange });
}

/** What runs only while this replica leads: the reconciler's writes and the finalizer gate. */
function whileLeading(reconciler: Reconciler, gate: FinalizerGate): { start(): void; stop(): void } {
  return {
    start: () => {
      reconciler.startLeading();
      gate.start();
    },
    stop: () => {
      gate.stop();
      reconciler.stopLeading();
    },
  };
}

/** The finalizer policy's gate (ADR 0024), its state read from the cached plan namespace. */
function finalizerGate(w: { clients: KubeClients; config: OperatorConfig; logger: Logger; clock: Clock; cache: ObjectCache }): FinalizerGate {
  const planNamespace = w.config.planNamespace;
  const port: FinalizerGatePort = {
    ...kubeFinalizerGateIO(w.clients, planNamespace),
    isOpen: () => w.cache.get("Namespace", planNamespace)?.metadata?.annotations?.[ANNOTATION_FINALIZER_POLICY] === FINALIZER_POLICY_OPEN,
  };
  return new FinalizerGate(port, w.clock, w.logger);
}

/** Leader election on the leader Lease; the reconciler (and the gate) write only while this replica leads. */
function electLeader(w: Wiring & { watches: WatchSet; leading: { start(): void; stop(): void } }): LeaderElector {
  const { config, leading } = w;
  // The Lease answers again after failures: the API server is back, so the watches need not finish their backoff.
  let leaseFailing = false;
  const elector = new LeaderElector({
    leases: apiLeaseStore(w.clients),
    lease: { namespace: config.namespace, name: LEADER_LEASE_NAME },
    identity: config.identity,
    timing: { leaseDurationMs: config.leaseDurationMs, renewDeadlineMs: config.renewDeadlineMs, retryPeriodMs: config.retryPeriodMs },
    clock: w.clock,
    logger: w.logger,
    onStartedLeading: () => leading.start(),
    // Step down, keep the process, the watches and the cache; the elector keeps trying and we lead again when it wins.
    onStoppedLeading: () => leading.stop(),
    onAttemptFailed: () => (leaseFailing = true),
    onObserved: () => {
      if (!leaseFailing) return;
      leaseFailing = false;
      w.watches.retryNow();
    },
  });
  elector.start();
  return elector;
}

/** /healthz, /readyz (synced, and every watch up) and /metrics; the watches stop if it cannot start. */
async function serveHealth(w: {
  config: OperatorConfig;
  logger: Logger;
  metrics: OperatorMetrics;
  reconciler: Reconciler;
  watches: WatchSet;
}): Promise<HealthServer> {
  const { reconciler, watches } = w;
  return startHealthServer({
    bindAddress: w.config.metricsBindAddress,
    registry: w.metrics.registry,
    logger: w.logger,
    healthz: { ping: () => ({ ok: true }) },
    readyz: {
      synced: () => (reconciler.isSynced ? { ok: true } : { ok: false, message: "cache not synced yet" }),
      // False while any watch is down (an API outage); it recovers by itself (ADR 0019).
      watches: () => watches.health(),
    },
  }).catch((err: unknown) => {
    watches.stop();
    throw err;
  });
}
