import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { parseOperatorOptions, type OptionSources } from "../../../src/operator/options.js";
import { parseDuration } from "../../../src/shared/duration.js";

function sources(over: Partial<OptionSources> = {}): OptionSources {
  return { flags: {}, env: {}, defaultIdentity: "host_1", ...over };
}

function ok(over: Partial<OptionSources> = {}) {
  const res = parseOperatorOptions(sources(over));
  assert.ok(res.ok, res.ok ? "" : res.errors.join("; "));
  return res.config;
}

function errors(over: Partial<OptionSources>): string[] {
  const res = parseOperatorOptions(sources(over));
  assert.equal(res.ok, false);
  return res.ok ? [] : res.errors;
}

void describe("parseOperatorOptions", () => {
  void test("defaults: client-go leader-election durations, :8080, keepalived-vip-system, hostname identity", () => {
    const c = ok();
    assert.equal(c.namespace, "keepalived-vip-system");
    assert.equal(c.identity, "host_1");
    assert.equal(c.leaderElect, true);
    assert.deepEqual([c.leaseDurationMs, c.renewDeadlineMs, c.retryPeriodMs], [15_000, 10_000, 2_000]);
    assert.equal(c.metricsBindAddress, ":8080");
    assert.equal(c.agent.metricsPort, 9101);
    assert.equal(c.agent.serviceAccountName, "keepalived-vip-agent");
    assert.deepEqual(c.agent.nodeSelector, {});
    assert.deepEqual(c.agent.extraArgs, []);
    assert.equal(c.kubeconfig, undefined);
    assert.equal(c.renderThread, "inline");
    assert.equal(c.minAdvertIntervalMs, 100);
  });

  const floors: { name: string; over: Partial<OptionSources>; want: number }[] = [
    { name: "the flag", over: { flags: { "min-advert-interval": "10ms" } }, want: 10 },
    { name: "its env var", over: { env: { KEEPALIVED_VIP_MIN_ADVERT_INTERVAL: "1s" } }, want: 1000 },
    { name: "the config file", over: { configText: "min-advert-interval: 250ms\n" }, want: 250 },
    { name: "the config file, in seconds", over: { configText: "min-advert-interval: 2\n" }, want: 2000 },
    { name: "the flag over its env var", over: { flags: { "min-advert-interval": "50ms" }, env: { KEEPALIVED_VIP_MIN_ADVERT_INTERVAL: "1s" } }, want: 50 },
  ];
  for (const c of floors) {
    void test(`--min-advert-interval from ${c.name} -> ${c.want}ms`, () => assert.equal(ok(c.over).minAdvertIntervalMs, c.want));
  }

  void test("--render-thread=worker (or its env var) moves the renderer to a thread of its own", () => {
    assert.equal(ok({ flags: { "render-thread": "worker" } }).renderThread, "worker");
    assert.equal(ok({ env: { KEEPALIVED_VIP_RENDER_THREAD: "worker" } }).renderThread, "worker");
  });

  void test("precedence: flag over env var over config file over default", () => {
    const configText = "agent-image: from-file\nnamespace: file-ns\nworkers: 3\n";
    const c = ok({ flags: { "agent-image": "from-flag" }, env: { POD_NAMESPACE: "env-ns" }, configText });
    assert.equal(c.agent.image, "from-flag");
    assert.equal(c.namespace, "env-ns");
    assert.equal(c.workers, 3);
  });

  void test("structured values: k=v selectors, JSON tolerations and resources, repeated extra args", () => {
    const c = ok({
      flags: {
        "agent-node-selector": "role=edge, zone=a",
        "agent-tolerations": '[{"key":"edge","operator":"Exists","effect":"NoSchedule"}]',
        "agent-resources": '{"limits":{"memory":"128Mi"}}',
        "agent-extra-args": ["--a", "--b=1"],
        "agent-priority-class": "",
      },
    });
    assert.deepEqual(c.agent.nodeSelector, { role: "edge", zone: "a" });
    assert.deepEqual(c.agent.tolerations, [{ key: "edge", operator: "Exists", effect: "NoSchedule" }]);
    assert.deepEqual(c.agent.resources, { limits: { memory: "128Mi" } });
    assert.deepEqual(c.agent.extraArgs, ["--a", "--b=1"]);
    assert.equal(c.agent.priorityClassName, undefined);
  });

  void test("agent pod labels (k=v), annotations and affinity (JSON)", () => {
    const c = ok({
      flags: {
        "agent-pod-labels": "team=net,tier=edge",
        "agent-pod-annotations": '{"example.com/note":"a, b = c"}',
        "agent-affinity": '{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[]}}}',
      },
    });
    assert.deepEqual(c.agent.podLabels, { team: "net", tier: "edge" });
    assert.deepEqual(c.agent.podAnnotations, { "example.com/note": "a, b = c" });
    assert.deepEqual(c.agent.affinity, { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [] } } });
    const d = ok({});
    assert.deepEqual([d.agent.podLabels, d.agent.podAnnotations, d.agent.affinity], [{}, {}, undefined]);
  });

  void test("the config file may use YAML maps and lists for the same settings", () => {
    const configText = [
      "agent-node-selector: {role: edge}",
      "agent-tolerations:",
      "  - {operator: Exists}",
      "agent-extra-args: [--x]",
      "leader-elect: false",
      "lease-duration: 30s",
      "renew-deadline: 20s",
    ].join("\n");
    const c = ok({ configText });
    assert.deepEqual(c.agent.nodeSelector, { role: "edge" });
    assert.deepEqual(c.agent.tolerations, [{ operator: "Exists" }]);
    assert.deepEqual(c.agent.extraArgs, ["--x"]);
    assert.equal(c.leaderElect, false);
    assert.equal(c.leaseDurationMs, 30_000);
  });

  const bad: { name: string; over: Partial<OptionSources>; want: RegExp }[] = [
    { name: "a duration without unit", over: { flags: { "lease-duration": "15" } }, want: /^--lease-duration: "15" is not a positive duration/ },
    { name: "leader-elect not a boolean", over: { flags: { "leader-elect": "yes" } }, want: /^--leader-elect: "yes" is not true or false/ },
    {
      name: "renew deadline not shorter than the lease",
      over: { flags: { "renew-deadline": "15s" } },
      want: /^--renew-deadline: must be shorter than --lease-duration/,
    },
    { name: "retry period too close to the renew deadline", over: { flags: { "retry-period": "9s" } }, want: /^--retry-period: must be shorter/ },
    { name: "a selector part without =", over: { flags: { "agent-node-selector": "edge" } }, want: /^--agent-node-selector: "edge" is not key=value/ },
    { name: "a bad label value", over: { flags: { "agent-node-selector": "a=b c" } }, want: /^--agent-node-selector \(a\): not a valid label value/ },
    { name: "an unknown toleration field", over: { flags: { "agent-tolerations": '[{"keys":"x"}]' } }, want: /^--agent-tolerations \(0\)/ },
    {
      name: "a pod label the operator sets",
      over: { flags: { "agent-pod-labels": "app.kubernetes.io/name=x" } },
      want: /^--agent-pod-labels: app\.kubernetes\.io\/name is set by the operator/,
    },
    {
      name: "an annotation key with a space",
      over: { flags: { "agent-pod-annotations": '{"a b":"x"}' } },
      want: /^--agent-pod-annotations \(a b\): not a valid annotation key/,
    },
    {
      name: "annotations that are not JSON",
      over: { env: { KEEPALIVED_VIP_AGENT_POD_ANNOTATIONS: "a=b" } },
      want: /^--agent-pod-annotations \(from KEEPALIVED_VIP_AGENT_POD_ANNOTATIONS\): not valid JSON/,
    },
    { name: "an unknown affinity kind", over: { flags: { "agent-affinity": '{"nodeAfinity":{}}' } }, want: /^--agent-affinity/ },
    {
      name: "a bad quantity",
      over: { flags: { "agent-resources": '{"limits":{"memory":"lots"}}' } },
      want: /^--agent-resources \(limits\.memory\): not a quantity/,
    },
    {
      name: "a port out of range",
      over: { env: { KEEPALIVED_VIP_AGENT_METRICS_PORT: "70000" } },
      want: /^--agent-metrics-port \(from KEEPALIVED_VIP_AGENT_METRICS_PORT\)/,
    },
    { name: "a bad bind address", over: { flags: { "metrics-bind-address": "localhost" } }, want: /^--metrics-bind-address: want host:port/ },
    { name: "an unknown render thread", over: { flags: { "render-thread": "gpu" } }, want: /^--render-thread/ },
    { name: "an advert floor below 10ms", over: { flags: { "min-advert-interval": "5ms" } }, want: /^--min-advert-interval: must be at least 10ms/ },
    {
      name: "an advert floor above 255s",
      over: { env: { KEEPALIVED_VIP_MIN_ADVERT_INTERVAL: "5m" } },
      want: /^--min-advert-interval \(from KEEPALIVED_VIP_MIN_ADVERT_INTERVAL\): must be at most 255s/,
    },
    {
      name: "an advert floor that is no duration",
      over: { flags: { "min-advert-interval": "fast" } },
      want: /^--min-advert-interval: "fast" is not a positive duration/,
    },
    { name: "a bad namespace", over: { flags: { namespace: "Kube_System" } }, want: /^--namespace: not a namespace name/ },
    {
      name: "an unknown key in the config file",
      over: { configText: "agent-imag: x\n", configPath: "/etc/kv.yaml" },
      want: /^--config \/etc\/kv\.yaml: unknown setting "agent-imag"/,
    },
    { name: "a config file that is not a map", over: { configText: "- a\n" }, want: /^--config config file: want a map/ },
    {
      name: "a bad value from the config file names the file",
      over: { configText: "workers: many\n", configPath: "/etc/kv.yaml" },
      want: /^--workers \(from \/etc\/kv\.yaml\): "many" is not a whole number/,
    },
  ];
  for (const c of bad) {
    void test(`rejects ${c.name}, naming the flag`, () => {
      const errs = errors(c.over);
      assert.ok(
        errs.some((e) => c.want.test(e)),
        errs.join("\n"),
      );
    });
  }
});

void describe("parseDuration", () => {
  const cases: [string, number | undefined][] = [
    ["15s", 15_000],
    ["500ms", 500],
    ["1m30s", 90_000],
    ["1.5s", 1500],
    ["2h", 7_200_000],
    ["15", undefined],
    ["s", undefined],
    ["-1s", undefined],
  ];
  for (const [text, want] of cases) void test(`${text} -> ${want}`, () => assert.equal(parseDuration(text), want));
});
