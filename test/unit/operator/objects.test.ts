import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { V1DaemonSet } from "@kubernetes/client-node";
import { ANNOTATION_CONFIG_HASH, ANNOTATION_INSTANCE, OPERATOR_FIELD_MANAGER, instanceSecretName, type PublishedInstance } from "../../../src/api/index.js";
import type { InstancePlan, NodePlan } from "../../../src/render/index.js";
import type { RawObject } from "../../../src/kube/watch.js";
import { ObjectCache, digestValue } from "../../../src/operator/cache.js";
import { ANNOTATION_SPEC_HASH, buildAgentDaemonSet, daemonSetNeedsApply } from "../../../src/operator/daemonset.js";
import { isSubset, jsonEqual } from "../../../src/operator/diff.js";
import {
  CONFIG_SECRETS_SELECTOR,
  buildInstanceSecret,
  buildNodeConfigSecret,
  configSecretNeedsApply,
  planStaleConfigSecrets,
} from "../../../src/operator/nodesecrets.js";
import type { AgentPodSettings } from "../../../src/operator/options.js";
import { buildServiceStatus, ownsIngress, serviceIngressNeedsApply } from "../../../src/operator/services.js";

const AGENT: AgentPodSettings = {
  image: "example/keepalived-vip:1.0",
  nodeSelector: { role: "edge" },
  tolerations: [{ key: "edge", operator: "Exists", effect: "NoSchedule" }],
  podLabels: {},
  podAnnotations: {},
  resources: { requests: { cpu: "10m", memory: "64Mi" } },
  priorityClassName: "system-node-critical",
  extraArgs: ["--keepalived-path=/usr/sbin/keepalived"],
  serviceAccountName: "keepalived-vip-agent",
  metricsPort: 9101,
  logLevel: "debug",
};

void describe("buildAgentDaemonSet", () => {
  void test("is deterministic: same settings, same object and spec hash", () => {
    const a = buildAgentDaemonSet({ namespace: "kv", agent: AGENT });
    const b = buildAgentDaemonSet({ namespace: "kv", agent: { ...AGENT } });
    assert.deepEqual(a, b);
    assert.match(a.metadata?.annotations?.[ANNOTATION_SPEC_HASH] ?? "", /^[0-9a-f]{64}$/);
  });

  void test("other settings give another spec hash", () => {
    const a = buildAgentDaemonSet({ namespace: "kv", agent: AGENT });
    const b = buildAgentDaemonSet({ namespace: "kv", agent: { ...AGENT, image: "example/keepalived-vip:1.1" } });
    assert.notEqual(a.metadata?.annotations?.[ANNOTATION_SPEC_HASH], b.metadata?.annotations?.[ANNOTATION_SPEC_HASH]);
  });

  void test("carries the pod labels, annotations and affinity asked for; the operator's labels win", () => {
    const affinity = {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: "zone", operator: "In", values: ["a"] }] }] },
      },
    };
    const plain = buildAgentDaemonSet({ namespace: "kv", agent: AGENT });
    const ds = buildAgentDaemonSet({
      namespace: "kv",
      agent: { ...AGENT, podLabels: { team: "net", "app.kubernetes.io/name": "other" }, podAnnotations: { "example.com/scrape": "true" }, affinity },
    });
    const meta = ds.spec?.template.metadata;
    assert.equal(meta?.labels?.team, "net");
    assert.equal(meta?.labels?.["app.kubernetes.io/name"], plain.spec?.template.metadata?.labels?.["app.kubernetes.io/name"]);
    assert.deepEqual(meta?.annotations, { "example.com/scrape": "true" });
    assert.deepEqual(ds.spec?.template.spec?.affinity, affinity);
    assert.deepEqual(ds.spec?.selector, plain.spec?.selector, "the selector never changes");
    assert.equal(plain.spec?.template.metadata?.annotations, undefined, "no annotations unless asked");
    assert.equal(plain.spec?.template.spec?.affinity, undefined, "no affinity unless asked");
    assert.notEqual(ds.metadata?.annotations?.[ANNOTATION_SPEC_HASH], plain.metadata?.annotations?.[ANNOTATION_SPEC_HASH]);
    assert.ok(daemonSetNeedsApply(ds, plain), "a change of pod metadata is applied");
  });

  void test("runs the agent with host networking, root and only the three network capabilities", () => {
    const pod = buildAgentDaemonSet({ namespace: "kv", agent: AGENT }).spec?.template.spec;
    const c = pod?.containers[0];
    assert.equal(pod?.hostNetwork, true);
    assert.equal(pod?.dnsPolicy, "ClusterFirstWithHostNet");
    assert.deepEqual(pod?.nodeSelector, { "kubernetes.io/os": "linux", role: "edge" });
    assert.deepEqual(pod?.tolerations, AGENT.tolerations);
    assert.equal(pod?.priorityClassName, "system-node-critical");
    assert.deepEqual(c?.args, ["agent", "--metrics-bind-address=:9101", "--log-level=debug", "--keepalived-path=/usr/sbin/keepalived"]);
    assert.deepEqual(c?.securityContext, {
      runAsUser: 0,
      runAsGroup: 0,
      runAsNonRoot: false,
      privileged: false,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"], add: ["NET_ADMIN", "NET_RAW", "NET_BROADCAST", "SYS_NICE"] },
      seccompProfile: { type: "RuntimeDefault" },
    });
    assert.equal(c?.ports?.[0]?.containerPort, 9101);
    assert.ok((pod?.terminationGracePeriodSeconds ?? 0) >= 10);
  });

  void test("leaves priorityClassName and tolerations out when unset", () => {
    const { priorityClassName: _p, ...rest } = AGENT;
    const pod = buildAgentDaemonSet({ namespace: "kv", agent: { ...rest, tolerations: [] } }).spec?.template.spec;
    assert.equal(pod?.priorityClassName, undefined);
    assert.equal(pod?.tolerations, undefined);
  });
});

void describe("daemonSetNeedsApply", () => {
  const desired = buildAgentDaemonSet({ namespace: "kv", agent: AGENT });
  /** The live object as the API server returns it: our fields plus defaults and rewritten quantities. */
  const live = (): V1DaemonSet => {
    const l = structuredClone(desired);
    const c = l.spec!.template.spec!.containers[0]!;
    c.terminationMessagePath = "/dev/termination-log";
    c.resources = { requests: { cpu: "10m", memory: "64Mi" } };
    l.spec!.revisionHistoryLimit = 10;
    l.metadata!.resourceVersion = "42";
    return l;
  };
  const cases: { name: string; live: () => V1DaemonSet | undefined; want: boolean }[] = [
    { name: "missing: apply", live: () => undefined, want: true },
    { name: "equal apart from server defaults: no apply", live, want: false },
    {
      name: "another spec hash (settings changed): apply",
      live: () => {
        const l = live();
        l.metadata!.annotations![ANNOTATION_SPEC_HASH] = "old";
        return l;
      },
      want: true,
    },
    {
      name: "image changed by hand: apply",
      live: () => {
        const l = live();
        l.spec!.template.spec!.containers[0]!.image = "other";
        return l;
      },
      want: true,
    },
    {
      name: "a quantity rewritten by the server: no apply",
      live: () => {
        const l = live();
        l.spec!.template.spec!.containers[0]!.resources = { requests: { cpu: "0.01", memory: "64Mi" } };
        return l;
      },
      want: false,
    },
  ];
  for (const c of cases) void test(c.name, () => assert.equal(daemonSetNeedsApply(desired, c.live()), c.want));
});

const NODE_JSON = JSON.stringify({ node: "node-a", runtimeDir: "/run/keepalived-vip", instances: [{ instance: "vip_4_7", interface: "eth0", priority: 100 }] });
const PLAN: NodePlan = {
  node: "node-a",
  published: JSON.parse(NODE_JSON) as NodePlan["published"],
  json: NODE_JSON,
  hash: "abc123",
};

const SHARED: PublishedInstance = {
  name: "vip_4_7",
  virtualRouterId: 7,
  family: 4,
  version: 3,
  advertIntervalMs: 1000,
  preempt: true,
  unicast: false,
  peers: [],
  primaryAddress: "192.0.2.7",
  excludedAddresses: [],
  virtualIPs: ["default/web"],
  virtualServers: [],
};
const INSTANCE: InstancePlan = { name: "vip_4_7", published: SHARED, json: JSON.stringify(SHARED), hash: "def456" };

void describe("buildNodeConfigSecret", () => {
  void test("carries node.json, node and hash, and a non-controlling owner reference", () => {
    const s = buildNodeConfigSecret({ namespace: "kv", node: { name: "node-a", uid: "u-1" }, plan: PLAN });
    assert.equal(s.metadata?.name, "keepalived-vip-node-node-a");
    assert.deepEqual(Object.keys(s.data ?? {}), ["node.json"]);
    assert.equal(Buffer.from(s.data?.["node.json"] ?? "", "base64").toString(), NODE_JSON);
    assert.equal(s.metadata?.annotations?.[ANNOTATION_CONFIG_HASH], "abc123");
    assert.equal(s.metadata?.labels?.["app.kubernetes.io/component"], "node-config");
    assert.deepEqual(s.metadata?.ownerReferences, [
      { apiVersion: "v1", kind: "Node", name: "node-a", uid: "u-1", controller: false, blockOwnerDeletion: false },
    ]);
    assert.deepEqual(buildNodeConfigSecret({ namespace: "kv", node: { name: "node-a", uid: "u-1" }, plan: PLAN }), s);
  });
});

void describe("buildInstanceSecret", () => {
  void test("carries instance.json, the instance name and hash, no owner", () => {
    const s = buildInstanceSecret({ namespace: "kv", plan: INSTANCE });
    assert.equal(s.metadata?.name, instanceSecretName("vip_4_7"));
    assert.match(s.metadata?.name ?? "", /^keepalived-vip-instance-vip-4-7-[0-9a-f]{8}$/);
    assert.deepEqual(JSON.parse(Buffer.from(s.data?.["instance.json"] ?? "", "base64").toString()), SHARED);
    assert.equal(s.metadata?.annotations?.[ANNOTATION_INSTANCE], "vip_4_7");
    assert.equal(s.metadata?.annotations?.[ANNOTATION_CONFIG_HASH], "def456");
    assert.equal(s.metadata?.labels?.["app.kubernetes.io/component"], "instance-config");
    assert.equal(s.metadata?.ownerReferences, undefined);
  });

  void test("instance names that differ only in case or punctuation get different Secrets", () => {
    const names = ["vip_4_7_br-lan", "vip_4_7_br_lan", "vip_4_7_BR_lan", "vip_4_7_br.lan"].map(instanceSecretName);
    assert.equal(new Set(names).size, names.length);
    for (const n of names) assert.match(n, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
  });

  void test("the watch selector names both config components", () => {
    assert.equal(CONFIG_SECRETS_SELECTOR, "app.kubernetes.io/component in (node-config,instance-config)");
  });
});

void describe("configSecretNeedsApply", () => {
  const desired = buildNodeConfigSecret({ namespace: "kv", node: { name: "node-a", uid: "u-1" }, plan: PLAN });
  /** The live Secret as the cache keeps it: data values replaced by their digests. */
  const live = (): RawObject => {
    const l = {
      ...(structuredClone(desired) as unknown as RawObject),
      metadata: { ...structuredClone(desired.metadata), resourceVersion: "5", uid: "s-1" } as RawObject["metadata"],
    };
    return new ObjectCache().put("Secret", l)?.current as RawObject;
  };
  const cases: { name: string; mutate: (l: RawObject) => RawObject | undefined; want: boolean }[] = [
    { name: "equal: no write", mutate: (l) => l, want: false },
    { name: "missing: write", mutate: () => undefined, want: true },
    { name: "other node.json bytes: write", mutate: (l) => ({ ...l, data: { ...(l.data as object), "node.json": digestValue("eA==") } }), want: true },
    {
      name: "a key of the older layout left over: write",
      mutate: (l) => ({ ...l, data: { ...(l.data as object), "keepalived.conf": digestValue("eA==") } }),
      want: true,
    },
    {
      name: "other hash annotation: write",
      mutate: (l) => ({ ...l, metadata: { ...l.metadata, annotations: { ...l.metadata?.annotations, [ANNOTATION_CONFIG_HASH]: "zzz" } } }),
      want: true,
    },
    {
      name: "Node recreated (other uid): write",
      mutate: (l) => ({
        ...l,
        metadata: {
          ...l.metadata,
          ownerReferences: [{ apiVersion: "v1", kind: "Node", name: "node-a", uid: "u-0", controller: false, blockOwnerDeletion: false }],
        },
      }),
      want: true,
    },
    {
      name: "extra label added by someone: no write",
      mutate: (l) => ({ ...l, metadata: { ...l.metadata, labels: { ...l.metadata?.labels, extra: "1" } } }),
      want: false,
    },
  ];
  for (const c of cases) void test(c.name, () => assert.equal(configSecretNeedsApply(desired, c.mutate(live())), c.want));
});

void describe("planStaleConfigSecrets", () => {
  void test("deletes our node and instance Secrets the plan no longer has, and only ours", () => {
    const secret = (name: string, component: string, managed = true): RawObject => ({
      metadata: {
        name,
        uid: `uid-${name}`,
        labels: { "app.kubernetes.io/component": component, ...(managed ? { "app.kubernetes.io/managed-by": "keepalived-vip-operator" } : {}) },
      },
    });
    const wanted = new Set(["keepalived-vip-node-node-a", "keepalived-vip-instance-vip-4-7-0000abcd"]);
    const got = planStaleConfigSecrets(wanted, [
      secret("keepalived-vip-node-node-b", "node-config"),
      secret("keepalived-vip-node-node-a", "node-config"),
      secret("keepalived-vip-instance-vip-4-7-0000abcd", "instance-config"),
      secret("keepalived-vip-instance-vip-4-9-0000ffff", "instance-config"),
      secret("keepalived-vip-node-x", "node-config", false),
      secret("keepalived-vip-other", "agent"),
    ]);
    assert.deepEqual(got, [
      { name: "keepalived-vip-instance-vip-4-9-0000ffff", uid: "uid-keepalived-vip-instance-vip-4-9-0000ffff" },
      { name: "keepalived-vip-node-node-b", uid: "uid-keepalived-vip-node-node-b" },
    ]);
  });
});

void describe("Service ingress", () => {
  const lb = (name: string, extra: Record<string, unknown> = {}): RawObject => ({
    metadata: { name, namespace: "default" },
    spec: { type: "LoadBalancer" },
    ...extra,
  });
  const owned = (name: string, ips: string[]): RawObject => ({
    metadata: {
      name,
      namespace: "default",
      managedFields: [{ manager: OPERATOR_FIELD_MANAGER, fieldsV1: { "f:status": { "f:loadBalancer": { "f:ingress": {} } } } }],
    },
    spec: { type: "LoadBalancer" },
    status: { loadBalancer: { ingress: ips.map((ip) => ({ ip, ipMode: "VIP" })) } },
  });

  // Which Services get which ingress is derived.ts's (test/unit/operator/derived.test.ts); here, the write that releases one.
  void test("releases an ingress we own once no VirtualIP names the Service", () => {
    const svc = owned("web", ["192.0.2.3"]);
    assert.equal(ownsIngress(svc), true);
    assert.equal(serviceIngressNeedsApply([], svc), true);
    assert.deepEqual(buildServiceStatus([]), {});
  });

  const needs: { name: string; desired: string[]; live: RawObject; want: boolean }[] = [
    { name: "equal IPs (server added ipMode): no write", desired: ["192.0.2.3"], live: owned("web", ["192.0.2.3"]), want: false },
    { name: "other IPs: write", desired: ["192.0.2.4"], live: owned("web", ["192.0.2.3"]), want: true },
    { name: "nothing wanted and not ours: no write", desired: [], live: lb("web"), want: false },
  ];
  for (const c of needs) void test(c.name, () => assert.equal(serviceIngressNeedsApply(c.desired, c.live), c.want));
});

void describe("isSubset", () => {
  const cases: [unknown, unknown, boolean][] = [
    [{ a: 1 }, { a: 1, b: 2 }, true],
    [{ a: 1, b: 2 }, { a: 1 }, false],
    [[1, 2], [1, 2], true],
    [[1], [1, 2], false],
    [{ a: [{ x: 1 }] }, { a: [{ x: 1, y: 2 }] }, true],
    [{ a: undefined }, {}, true],
    ["x", "y", false],
    [null, null, true],
  ];
  for (const [d, l, want] of cases) void test(`${JSON.stringify(d)} in ${JSON.stringify(l)}: ${want}`, () => assert.equal(isSubset(d, l), want));
  void test("jsonEqual ignores key order only", () => {
    assert.equal(jsonEqual({ a: 1, b: [1] }, { b: [1], a: 1 }), true);
    assert.equal(jsonEqual({ a: 1 }, { a: 1, b: 2 }), false);
  });
});
