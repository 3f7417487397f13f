// The operator process: clients, watches into the cache, the initial sync,
// leader election, the reconciler and the health server, wired together. I/O.
import { hostname } from "node:os";
import { DAEMONSET_NAME, GROUP, LEADER_LEASE_NAME, PLURAL, POOL_PLURAL, VERSION } from "../api/index.js";
import { createKubeClients, describeError, type KubeClients } from "../kube/client.js";
import { listKeys, rawKey, startWatches, type RawObject, type WatchEventType, type WatchTarget } from "../kube/watch.js";
import { realClock, type Clock } from "../shared/clock.js";
import { startHealthServer, type HealthServer } from "../shared/health-server.js";
import type { Logger } from "../shared/logger.js";
import { ObjectCache, type Kind } from "./cache.js";
import { EventRecorder } from "./events.js";
import { LeaderElector } from "./leader.js";
import { createOperatorMetrics, type OperatorMetrics } from "./metrics.js";
import { CONFIG_SECRETS_SELECTOR } from "./nodesecrets.js";
import type { OperatorConfig } from "./options.js";
import { Reconciler } from "./reconciler.js";
import { RenderWorker, renderInline } from "./render-worker.js";

/** How long the sync barrier waits for the watches to deliver a listed object before listing again. */
const SYNC_RELIST_MS = 2000;
/** Delay between a watch restart and the list that finds deletions the restart hid. */
const RESYNC_DELAY_MS = 2000;

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
  /** Ends the process (lost leadership). Default process.exit. */
  exit?: (code: number) => void;
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
  /**
   * Graceful stop: stops writing, lets running writes finish, releases the
   * leader Lease (so another replica takes over at once) and closes the
   * health server. The watches keep running until the process exits.
   */
  stop(): Promise<void>;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** Waits until every object a fresh list shows is in the cache (or was deleted since). */
async function waitForSync(opts: { clients: KubeClients; cache: ObjectCache; targets: (WatchTarget & { name: Kind })[]; logger: Logger }): Promise<void> {
  const { cache, clients, targets, logger } = opts;
  const started = Date.now();
  for (const t of targets) {
    for (;;) {
      const since = cache.currentSeq;
      const listed = await listKeys(clients.kc, t);
      const deadline = Date.now() + SYNC_RELIST_MS;
      let missing = [...listed.keys()].filter((k) => !cache.has(t.name, k) && !cache.deletedSince(t.name, k, since));
      while (missing.length > 0 && Date.now() < deadline) {
        await sleep(20);
        missing = missing.filter((k) => !cache.has(t.name, k) && !cache.deletedSince(t.name, k, since));
      }
      if (missing.length === 0) break;
      logger.debug("Waiting for watch events of listed objects", { resource: t.name, missing: missing.length });
    }
  }
  logger.info("Synced the cache", { ms: Date.now() - started, virtualIPs: cache.size("VirtualIP"), nodes: cache.size("Node"), services: cache.size("Service") });
}

/** Lists a resource again after its watch restarted, and drops what the replay did not bring back. */
async function resync(opts: { clients: KubeClients; cache: ObjectCache; target: WatchTarget & { name: Kind }; reconciler: Reconciler; logger: Logger }): Promise<void> {
  const { cache, target } = opts;
  const since = cache.currentSeq;
  try {
    const listed = await listKeys(opts.clients.kc, target);
    const removed = cache.sweep(target.name, listed, since);
    for (const change of removed) opts.reconciler.onChange(change);
    if (removed.length > 0) opts.logger.info("Dropped objects deleted while a watch restarted", { resource: target.name, count: removed.length });
  } catch (err) {
    opts.logger.warn("Failed to list after a watch restart", { resource: target.name, error: describeError(err) });
  }
}

/** Starts the operator: health server, watches, sync, leader election, reconciler. */
export async function startOperator(opts: StartOperatorOptions): Promise<OperatorHandle> {
  const { config, logger } = opts;
  const clock = opts.clock ?? realClock;
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  const metrics = createOperatorMetrics();
  const clients = createKubeClients({ ...(config.kubeconfig ? { kubeconfig: config.kubeconfig } : {}), onWrite: (verb, resource) => metrics.writes.inc({ verb, resource }) });
  const cache = new ObjectCache();
  const events = new EventRecorder({ clients, clock, logger, component: "keepalived-vip-operator", host: config.identity });
  const renderer = config.renderThread === "worker" ? new RenderWorker() : undefined;
  const reconciler = new Reconciler({ config, clients, cache, clock, logger, metrics, events, render: renderer?.render ?? renderInline });
  let elector: LeaderElector | undefined;

  const health = await startHealthServer({
    bindAddress: config.metricsBindAddress,
    registry: metrics.registry,
    logger,
    healthz: { ping: () => ({ ok: true }) },
    readyz: { synced: () => (reconciler.isSynced ? { ok: true } : { ok: false, message: "cache not synced yet" }) },
  });

  const targets = operatorWatchTargets(config.namespace, config.planNamespace);
  const onEvent = (t: WatchTarget, type: WatchEventType, obj: RawObject): void => {
    const kind = t.name as Kind;
    const change = type === "DELETED" ? cache.remove(kind, rawKey(obj)) : cache.put(kind, obj);
    if (change) reconciler.onChange(change);
  };
  const onRestart = (t: WatchTarget): void => {
    const target = targets.find((x) => x.name === t.name);
    if (target) setTimeout(() => void resync({ clients, cache, target, reconciler, logger }), RESYNC_DELAY_MS).unref();
  };
  await startWatches({ kc: clients.kc, targets, logger, onEvent, onRestart });
  const synced = waitForSync({ clients, cache, targets, logger }).then(
    () => reconciler.markSynced(),
    (err: unknown) => {
      logger.error("Failed to sync the cache, exiting", { error: describeError(err) });
      exit(1);
    },
  );

  if (config.leaderElect) {
    elector = new LeaderElector({
      clients,
      lease: { namespace: config.namespace, name: LEADER_LEASE_NAME },
      identity: config.identity,
      timing: { leaseDurationMs: config.leaseDurationMs, renewDeadlineMs: config.renewDeadlineMs, retryPeriodMs: config.retryPeriodMs },
      clock,
      logger,
      onStartedLeading: () => reconciler.startLeading(),
      onStoppedLeading: () => {
        reconciler.stopLeading();
        logger.error("Exiting after losing leadership, so that this replica restarts as a follower", { identity: config.identity });
        exit(1);
      },
    });
    elector.start();
  } else {
    reconciler.startLeading();
  }

  return {
    metrics,
    reconciler,
    cache,
    clients,
    health,
    synced,
    async stop() {
      reconciler.stopLeading();
      await reconciler.queue.shutDown();
      await elector?.release();
      await health.close();
      await renderer?.close();
    },
  };
}
