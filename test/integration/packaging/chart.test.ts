// The Helm chart without a cluster: lint, rendering with default and other
// values, the values schema, the operator flags it writes, CRD and RBAC parity.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import yaml from "js-yaml";
import { OPERATOR_FLAGS } from "../../../src/operator/operator-flags.js";
import { parseOperatorOptions, type OperatorConfig } from "../../../src/operator/options.js";
import {
  CHART_DIR,
  CRD_FILE,
  NAMESPACE,
  PLAN_NAMESPACE,
  find,
  helm,
  rbacContent,
  readConfigDir,
  ref,
  renderChart,
  renderChartRaw,
  type Obj,
} from "./manifests.js";

interface Container {
  name: string;
  image: string;
  args: string[];
  env: { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
  securityContext: Record<string, unknown>;
  livenessProbe: { httpGet: { path: string; port: string } };
  readinessProbe: { httpGet: { path: string; port: string } };
  resources: Record<string, unknown>;
  ports: { name: string; containerPort: number }[];
}

function operatorContainer(objs: Obj[]): Container {
  const dep = find(objs, "Deployment", "keepalived-vip-operator") as Obj & { spec: { template: { spec: { containers: Container[] } } } };
  const c = dep.spec.template.spec.containers.find((x) => x.name === "operator");
  assert.ok(c, "the Deployment has an operator container");
  return c;
}

/** Parses the container's args the way `keepalived-vip operator` does and resolves its settings. */
function operatorConfigOf(c: Container): OperatorConfig {
  assert.equal(c.args[0], "operator", "the first argument is the subcommand");
  const options = Object.fromEntries(OPERATOR_FLAGS.map((f) => [f.name, { type: "string" as const, multiple: f.multiple ?? false }]));
  const { values } = parseArgs({ args: c.args.slice(1), options, strict: true });
  const res = parseOperatorOptions({
    flags: values,
    env: { POD_NAMESPACE: NAMESPACE, POD_NAME: "keepalived-vip-operator-0" },
    defaultIdentity: "host_1",
  });
  assert.ok(res.ok, `the operator accepts the chart's flags: ${res.ok ? "" : res.errors.join("; ")}`);
  return res.config;
}

void describe("Helm chart", () => {
  void test("helm lint passes with default values and with every option on", async () => {
    const plain = await helm(["lint", "--strict", CHART_DIR]);
    assert.equal(plain.code, 0, plain.stdout + plain.stderr);
    const full = await helm(["lint", "--strict", CHART_DIR, "--set", "metrics.serviceMonitor.enabled=true", "--set", "agent.nodeSelector.role=edge"]);
    assert.equal(full.code, 0, full.stdout + full.stderr);
  });

  void test("Chart.yaml's version and appVersion are package.json's version", () => {
    const chart = yaml.load(readFileSync(join(CHART_DIR, "Chart.yaml"), "utf8")) as Record<string, unknown>;
    const { version } = JSON.parse(readFileSync(join(CHART_DIR, "../../package.json"), "utf8")) as { version: string };
    assert.equal(chart.apiVersion, "v2");
    assert.equal(chart.version, version);
    assert.equal(chart.appVersion, version);
  });

  void test("monitors on: an agent PodMonitor and a PrometheusRule with the documented alerts", async () => {
    const objs = await renderChart({ agent: { podMonitor: { enabled: true, labels: { release: "prom" } } }, prometheusRule: { enabled: true } });
    const pm = objs.find((o) => o.kind === "PodMonitor");
    assert.ok(pm, "a PodMonitor");
    const spec = pm.spec as { selector: { matchLabels: Record<string, string> }; podMetricsEndpoints: { port: string }[] };
    assert.deepEqual(spec.selector.matchLabels, { "app.kubernetes.io/name": "keepalived-vip", "app.kubernetes.io/component": "agent" });
    assert.equal(spec.podMetricsEndpoints[0]?.port, "metrics");
    assert.equal(pm.metadata.labels?.release, "prom");
    const rule = objs.find((o) => o.kind === "PrometheusRule");
    assert.ok(rule, "a PrometheusRule");
    const rules = (rule.spec as { groups: { rules: { alert: string; expr: string }[] }[] }).groups.flatMap((g) => g.rules);
    assert.deepEqual(rules.map((r) => r.alert).sort(), [
      "KeepalivedVIPAgentNotReporting",
      "KeepalivedVIPConfigRejected",
      "KeepalivedVIPConfigWaiting",
      "KeepalivedVIPNoMaster",
      "KeepalivedVIPSplitBrain",
    ]);
    const docs = readFileSync(join(CHART_DIR, "../../docs/troubleshooting.md"), "utf8");
    for (const r of rules.filter((x) => x.alert === "KeepalivedVIPNoMaster" || x.alert === "KeepalivedVIPSplitBrain")) {
      assert.ok(docs.includes(r.expr), `docs/troubleshooting.md has the query of ${r.alert}: ${r.expr}`);
    }
    const off = await renderChart();
    assert.equal(off.filter((o) => o.kind === "PodMonitor" || o.kind === "PrometheusRule").length, 0, "both off by default");
  });

  void test("keepalived-vip-viewer aggregates to view; keepalived-vip-editor to edit only when asked", async () => {
    const label = (o: Obj | undefined, k: string) => o?.metadata.labels?.[`rbac.authorization.k8s.io/${k}`];
    const byName = (objs: Obj[], n: string) => objs.find((o) => o.kind === "ClusterRole" && o.metadata.name === n);
    const def = await renderChart();
    assert.equal(label(byName(def, "keepalived-vip-viewer"), "aggregate-to-view"), "true");
    assert.equal(label(byName(def, "keepalived-vip-editor"), "aggregate-to-edit"), undefined);
    const on = await renderChart({ rbac: { aggregatedRoles: { aggregateToEdit: true } } });
    assert.equal(label(byName(on, "keepalived-vip-editor"), "aggregate-to-edit"), "true");
  });

  void test("one replica renders no PodDisruptionBudget (it would block every drain); two render one", async () => {
    const one = await renderChart({ replicaCount: 1 });
    assert.equal(one.filter((o) => o.kind === "PodDisruptionBudget").length, 0);
    const two = await renderChart({ replicaCount: 2 });
    const pdb = two.filter((o) => o.kind === "PodDisruptionBudget");
    assert.equal(pdb.length, 1);
  });

  void test("default values render the operator Deployment, PDB, ServiceAccounts, RBAC and metrics Service", async () => {
    const objs = await renderChart();
    const kinds = objs.map((o) => `${o.kind}/${o.metadata.name}`).sort();
    assert.deepEqual(kinds, [
      "ClusterRole/keepalived-vip-agent",
      "ClusterRole/keepalived-vip-editor",
      "ClusterRole/keepalived-vip-operator",
      "ClusterRole/keepalived-vip-viewer",
      "ClusterRoleBinding/keepalived-vip-agent",
      "ClusterRoleBinding/keepalived-vip-operator",
      "Deployment/keepalived-vip-operator",
      "Namespace/keepalived-vip-nodes",
      "PodDisruptionBudget/keepalived-vip-operator",
      "Role/keepalived-vip-agent",
      "Role/keepalived-vip-operator",
      "Role/keepalived-vip-operator-plan",
      "RoleBinding/keepalived-vip-agent",
      "RoleBinding/keepalived-vip-operator",
      "RoleBinding/keepalived-vip-operator-plan",
      "Service/keepalived-vip-operator-metrics",
      "ServiceAccount/keepalived-vip-agent",
      "ServiceAccount/keepalived-vip-operator",
      "ValidatingAdmissionPolicy/keepalived-vip-agent-lease",
      "ValidatingAdmissionPolicy/keepalived-vip-agent-status",
      "ValidatingAdmissionPolicyBinding/keepalived-vip-agent-lease",
      "ValidatingAdmissionPolicyBinding/keepalived-vip-agent-status",
    ]);
    // The plan and the heartbeats live in a namespace of their own (ADR 0010); everything else in the release namespace.
    const namespaced = objs.filter((x) => x.metadata.namespace !== undefined);
    for (const o of namespaced)
      assert.ok([NAMESPACE, PLAN_NAMESPACE].includes(o.metadata.namespace ?? ""), `${ref(o)} is in the release or the plan's namespace`);
    assert.deepEqual(
      namespaced
        .filter((x) => x.metadata.namespace === PLAN_NAMESPACE)
        .map(ref)
        .sort(),
      ["Role/keepalived-vip-agent", "Role/keepalived-vip-operator-plan", "RoleBinding/keepalived-vip-agent", "RoleBinding/keepalived-vip-operator-plan"],
      "the agent's only Role and the operator's plan Role are in the plan's namespace",
    );

    const dep = find(objs, "Deployment", "keepalived-vip-operator") as Obj & {
      spec: { replicas: number; template: { spec: { serviceAccountName: string; securityContext: Record<string, unknown> } } };
    };
    assert.equal(dep.spec.replicas, 2);
    assert.equal(dep.spec.template.spec.serviceAccountName, "keepalived-vip-operator");
    assert.equal(dep.spec.template.spec.securityContext.runAsNonRoot, true);
    assert.deepEqual(dep.spec.template.spec.securityContext.seccompProfile, { type: "RuntimeDefault" });

    const c = operatorContainer(objs);
    assert.equal(c.image, "ghcr.io/keepalived-vip/keepalived-vip-operator:0.1.0");
    assert.deepEqual(c.securityContext, {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ["ALL"] },
      seccompProfile: { type: "RuntimeDefault" },
    });
    assert.deepEqual(
      c.env.filter((e) => e.valueFrom).map((e) => [e.name, e.valueFrom?.fieldRef?.fieldPath]),
      [
        ["POD_NAMESPACE", "metadata.namespace"],
        ["POD_NAME", "metadata.name"],
      ],
    );
    assert.equal(c.livenessProbe.httpGet.path, "/healthz");
    assert.equal(c.readinessProbe.httpGet.path, "/readyz");
    // The heap cap: the chart's default and config/manager's (what make bench-operator measures) agree.
    const managerDeployment = readConfigDir("config/manager").find((o) => o.kind === "Deployment") as unknown as {
      spec: { template: { spec: { containers: { env: { name: string; value?: string }[] }[] } } };
    };
    const managerNodeOptions = managerDeployment.spec.template.spec.containers[0]?.env.find((e) => e.name === "NODE_OPTIONS")?.value;
    assert.equal(c.env.find((e) => e.name === "NODE_OPTIONS")?.value, "--max-old-space-size=128 --max-semi-space-size=4");
    assert.equal(managerNodeOptions, "--max-old-space-size=128 --max-semi-space-size=4");
    assert.ok(c.resources.requests && c.resources.limits, "resources are set");
    assert.deepEqual(c.ports, [{ name: "metrics", containerPort: 8080, protocol: "TCP" }]);

    const cfg = operatorConfigOf(c);
    assert.equal(cfg.leaderElect, true);
    assert.equal(cfg.metricsBindAddress, ":8080");
    assert.equal(cfg.agent.image, "ghcr.io/keepalived-vip/keepalived-vip-operator:0.1.0");
    assert.equal(cfg.agent.serviceAccountName, "keepalived-vip-agent");
    assert.equal(cfg.agent.priorityClassName, "system-node-critical");
    assert.deepEqual(cfg.agent.nodeSelector, {});
    assert.deepEqual(cfg.agent.tolerations, []);
    assert.deepEqual(
      [cfg.agent.podLabels, cfg.agent.podAnnotations, cfg.agent.affinity],
      [{}, {}, undefined],
      "no pod labels, annotations or affinity by default",
    );

    const pdb = find(objs, "PodDisruptionBudget", "keepalived-vip-operator") as Obj & { spec: { minAvailable: number; selector: unknown } };
    assert.equal(pdb.spec.minAvailable, 1);
    assert.deepEqual(pdb.spec.selector, (dep.spec as unknown as { selector: unknown }).selector);
    assert.ok(!objs.some((o) => o.kind === "ServiceMonitor"), "no ServiceMonitor by default");
  });

  void test("non-default values reach the Deployment and the operator's agent settings", async () => {
    const objs = await renderChart({
      replicaCount: 3,
      image: { repository: "registry.example.com/kvo", tag: "1.2.3", pullPolicy: "Always" },
      imagePullSecrets: [{ name: "regcred" }],
      operator: { logLevel: "debug", workers: 4, heapLimitMiB: 300, minAdvertInterval: "20ms", extraArgs: ["--lease-duration=30s"] },
      agent: {
        nodeSelector: { "node-role.example.com/edge": "true", zone: "a" },
        tolerations: [{ key: "node-role.kubernetes.io/control-plane", operator: "Exists", effect: "NoSchedule" }],
        podLabels: { team: "net" },
        podAnnotations: { "example.com/note": "a, b = c" },
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: "zone", operator: "In", values: ["a"] }] }] },
          },
        },
        resources: { requests: { cpu: "50m", memory: "80Mi" }, limits: { memory: "300Mi" } },
        priorityClassName: "",
        metricsPort: 9300,
        logLevel: "warn",
        extraArgs: ["--heartbeat-interval=2s"],
      },
      metrics: { port: 9090, serviceMonitor: { enabled: true, labels: { release: "prom" } } },
    });
    const dep = find(objs, "Deployment", "keepalived-vip-operator") as Obj & { spec: { replicas: number } };
    assert.equal(dep.spec.replicas, 3);
    const c = operatorContainer(objs);
    assert.equal(c.image, "registry.example.com/kvo:1.2.3");
    assert.deepEqual(
      c.env.find((e) => e.name === "LOG_LEVEL"),
      { name: "LOG_LEVEL", value: "debug" },
    );
    assert.deepEqual(
      c.env.find((e) => e.name === "NODE_OPTIONS"),
      { name: "NODE_OPTIONS", value: "--max-old-space-size=300 --max-semi-space-size=4" },
    );
    const cfg = operatorConfigOf(c);
    assert.equal(cfg.workers, 4);
    assert.equal(cfg.minAdvertIntervalMs, 20);
    assert.equal(cfg.leaseDurationMs, 30_000);
    assert.equal(cfg.metricsBindAddress, ":9090");
    assert.deepEqual(cfg.agent, {
      image: "registry.example.com/kvo:1.2.3",
      nodeSelector: { "node-role.example.com/edge": "true", zone: "a" },
      tolerations: [{ key: "node-role.kubernetes.io/control-plane", operator: "Exists", effect: "NoSchedule" }],
      podLabels: { team: "net" },
      podAnnotations: { "example.com/note": "a, b = c" },
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: "zone", operator: "In", values: ["a"] }] }] },
        },
      },
      resources: { requests: { cpu: "50m", memory: "80Mi" }, limits: { memory: "300Mi" } },
      extraArgs: ["--heartbeat-interval=2s"],
      serviceAccountName: "keepalived-vip-agent",
      metricsPort: 9300,
      logLevel: "warn",
    });
    for (const sa of ["keepalived-vip-operator", "keepalived-vip-agent"]) {
      assert.deepEqual(find(objs, "ServiceAccount", sa).imagePullSecrets, [{ name: "regcred" }], `${sa} carries the pull secret`);
    }
    const sm = find(objs, "ServiceMonitor", "keepalived-vip-operator") as Obj & { spec: { endpoints: { port: string }[] } };
    assert.equal(sm.metadata.labels?.release, "prom");
    assert.equal(sm.spec.endpoints[0]?.port, "metrics");
  });

  void test("agent.image overrides only the agent's image", async () => {
    const objs = await renderChart({ image: { tag: "1.0.0" }, agent: { image: { repository: "registry.example.com/agent" } } });
    assert.equal(operatorContainer(objs).image, "ghcr.io/keepalived-vip/keepalived-vip-operator:1.0.0");
    assert.equal(operatorConfigOf(operatorContainer(objs)).agent.image, "registry.example.com/agent:1.0.0");
    assert.equal(operatorConfigOf(operatorContainer(objs)).minAdvertIntervalMs, 100, "the default advert floor");
  });

  void test("image.digest pins operator and agent by digest", async () => {
    const digest = `sha256:${"a".repeat(64)}`;
    const objs = await renderChart({ image: { digest } });
    assert.equal(operatorContainer(objs).image, `ghcr.io/keepalived-vip/keepalived-vip-operator@${digest}`);
    assert.equal(operatorConfigOf(operatorContainer(objs)).agent.image, `ghcr.io/keepalived-vip/keepalived-vip-operator@${digest}`);
  });

  const refused: { name: string; values: Record<string, unknown>; message: RegExp }[] = [
    { name: "replicaCount as a word", values: { replicaCount: "two" }, message: /replicaCount.*want integer/ },
    { name: "replicaCount 0", values: { replicaCount: 0 }, message: /replicaCount/ },
    { name: "image.tag as a number", values: { image: { tag: 5 } }, message: /image\/tag.*want string/ },
    { name: "an unknown top-level key", values: { replicas: 2 }, message: /additional properties 'replicas' not allowed/ },
    { name: "an unknown agent key", values: { agent: { nodeSelektor: {} } }, message: /additional properties 'nodeSelektor' not allowed/ },
    { name: "a toleration with a bad operator", values: { agent: { tolerations: [{ key: "a", operator: "Maybe" }] } }, message: /tolerations/ },
    { name: "a node selector value that is not a string", values: { agent: { nodeSelector: { zone: 1 } } }, message: /nodeSelector/ },
    { name: "an unknown affinity kind", values: { agent: { affinity: { nodeAfinity: {} } } }, message: /additional properties 'nodeAfinity' not allowed/ },
    { name: "a pod annotation that is not a string", values: { agent: { podAnnotations: { a: 1 } } }, message: /podAnnotations/ },
    { name: "a bad log level", values: { operator: { logLevel: "loud" } }, message: /logLevel/ },
    { name: "an advert floor that is no duration", values: { operator: { minAdvertInterval: "fast" } }, message: /minAdvertInterval/ },
    { name: "an advert floor as a number", values: { operator: { minAdvertInterval: 100 } }, message: /minAdvertInterval.*want string/ },
    { name: "a finalizer policy setting that is none of auto, true, false", values: { operator: { finalizerPolicy: "yes" } }, message: /finalizerPolicy/ },
    { name: "a bad pull policy", values: { image: { pullPolicy: "Sometimes" } }, message: /pullPolicy/ },
    { name: "a port out of range", values: { metrics: { port: 70000 } }, message: /metrics\/port/ },
    { name: "an operator flag without dashes", values: { operator: { extraArgs: ["lease-duration=1s"] } }, message: /extraArgs/ },
    { name: "no leader election with two replicas", values: { operator: { leaderElection: false } }, message: /leaderElection=false needs replicaCount=1/ },
    {
      name: "a ServiceMonitor without the Service",
      values: { metrics: { service: { enabled: false }, serviceMonitor: { enabled: true } } },
      message: /needs metrics.service.enabled/,
    },
  ];
  for (const c of refused) {
    void test(`helm template refuses ${c.name}`, async () => {
      const res = await renderChartRaw(c.values);
      assert.notEqual(res.code, 0, `helm template accepted ${JSON.stringify(c.values)}`);
      assert.match(res.stderr, c.message);
    });
  }

  void test("the finalizer policy: auto (the default) installs config/finalizer-policy's where the cluster serves MutatingAdmissionPolicy v1; true always; false never", async () => {
    const SERVED = ["--api-versions", "admissionregistration.k8s.io/v1/MutatingAdmissionPolicy"];
    const policyOf = (objs: Obj[]): Obj[] => objs.filter((o) => o.kind.startsWith("MutatingAdmissionPolicy"));
    const shipped = readConfigDir("config/finalizer-policy");
    assert.deepEqual(shipped.map(ref), ["MutatingAdmissionPolicy/keepalived-vip-finalizer", "MutatingAdmissionPolicyBinding/keepalived-vip-finalizer"]);
    const byDefault = policyOf(await renderChart({}, SERVED));
    assert.deepEqual(byDefault.map(ref), shipped.map(ref), "the default installs it where the cluster serves it");
    for (const [i, o] of byDefault.entries()) assert.deepEqual(o.spec, shipped[i]?.spec, `${ref(o)} differs between the chart and config/finalizer-policy`);
    // The gate (ADR 0024): the binding's parameter is the plan's namespace, and the policy acts only once it is open.
    const binding = byDefault.find((o) => o.kind === "MutatingAdmissionPolicyBinding");
    assert.deepEqual((binding?.spec as { paramRef?: unknown }).paramRef, { name: "keepalived-vip-nodes", parameterNotFoundAction: "Allow" });
    assert.deepEqual(policyOf(await renderChart({ operator: { finalizerPolicy: "auto" } }, SERVED)).map(ref), shipped.map(ref));
    assert.deepEqual(policyOf(await renderChart({})), [], "auto on a cluster without MutatingAdmissionPolicy v1");
    assert.deepEqual(policyOf(await renderChart({ operator: { finalizerPolicy: false } }, SERVED)), []);
    assert.deepEqual(policyOf(await renderChart({ operator: { finalizerPolicy: true } })).map(ref), shipped.map(ref));
  });

  void test("one replica without leader election is accepted", async () => {
    const objs = await renderChart({ replicaCount: 1, operator: { leaderElection: false } });
    assert.equal(operatorConfigOf(operatorContainer(objs)).leaderElect, false);
  });

  void test("the chart's CRD is the generated one", () => {
    assert.equal(readFileSync(join(CHART_DIR, "crds/keepalived-vip.io_virtualips.yaml"), "utf8"), readFileSync(CRD_FILE, "utf8"));
  });

  void test("chart RBAC equals config/rbac (and config/manager's ServiceAccount): same objects, rules and bindings", async () => {
    const chart = rbacContent(await renderChart());
    const config = rbacContent([...readConfigDir("config/rbac"), ...readConfigDir("config/manager")]);
    assert.ok(config.size >= 10, `config/rbac holds the operator's and the agent's RBAC (found ${[...config.keys()].join(", ")})`);
    assert.deepEqual([...chart.keys()].sort(), [...config.keys()].sort());
    for (const [key, content] of config) assert.deepEqual(chart.get(key), content, `${key} differs between the chart and config/rbac`);
  });
});
