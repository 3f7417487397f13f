// Tests of the agent's flag and environment parsing.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { parseAgentSettings, flagDurationMs } from "../../../src/cli/agent.js";
import { UsageError } from "../../../src/cli/command.js";

void describe("parseAgentSettings", () => {
  void test("defaults, with the downward API environment", () => {
    assert.deepEqual(parseAgentSettings([], { NODE_NAME: "node-a", POD_NAMESPACE: "kv", HOST_IP: "192.0.2.11" }), {
      kubeconfig: undefined,
      logLevel: "info",
      node: "node-a",
      namespace: "kv",
      hostIP: "192.0.2.11",
      runtimeDir: "/run/keepalived-vip",
      keepalivedPath: "keepalived",
      metricsBindAddress: "0.0.0.0:9101",
      leaseDurationSeconds: 10,
      heartbeatIntervalMs: 3000,
    });
  });

  void test("--log-level, LOG_LEVEL, and a refused level", () => {
    const env = { NODE_NAME: "n", LOG_LEVEL: "warn" };
    assert.equal((parseAgentSettings([], env) as { logLevel: string }).logLevel, "warn");
    assert.equal((parseAgentSettings(["--log-level", "debug"], env) as { logLevel: string }).logLevel, "debug");
    assert.throws(() => parseAgentSettings(["--log-level", "verbose"], env), /--log-level: "verbose" is not one of error, warn, info, debug/);
    assert.throws(() => parseAgentSettings([], { ...env, LOG_LEVEL: "loud" }), /--log-level \(from LOG_LEVEL\): "loud" is not one of/);
  });

  void test("flags override the environment", () => {
    const s = parseAgentSettings(
      [
        "--node-name",
        "n2",
        "--namespace",
        "x",
        "--host-ip",
        "2001:db8::12",
        "--runtime-dir",
        "/tmp/r",
        "--keepalived-path",
        "/usr/sbin/keepalived",
        "--metrics-bind-address",
        "127.0.0.1:0",
        "--lease-duration",
        "4s",
        "--heartbeat-interval",
        "500ms",
        "--kubeconfig",
        "/k",
      ],
      { NODE_NAME: "node-a", POD_NAMESPACE: "kv", HOST_IP: "192.0.2.11" },
    );
    assert.notEqual(s, "help");
    if (s === "help") return;
    assert.equal(s.node, "n2");
    assert.equal(s.namespace, "x");
    assert.equal(s.hostIP, "2001:db8::12");
    assert.equal(s.leaseDurationSeconds, 4);
    assert.equal(s.heartbeatIntervalMs, 500);
    assert.equal(s.kubeconfig, "/k");
  });

  void test("the namespace defaults to keepalived-vip-system", () => {
    const s = parseAgentSettings(["--node-name", "a"], {});
    assert.equal(s !== "help" && s.namespace, "keepalived-vip-system");
  });

  const usage: Array<[string, string[], NodeJS.ProcessEnv, RegExp]> = [
    ["missing node name", [], {}, /node name is required/],
    ["blank NODE_NAME", [], { NODE_NAME: "  " }, /node name is required/],
    ["unknown flag", ["--node-name", "a", "--bogus"], {}, /bogus/],
    ["bad bind address", ["--node-name", "a", "--metrics-bind-address", "9101"], {}, /metrics-bind-address/],
    ["bad duration", ["--node-name", "a", "--lease-duration", "ten"], {}, /invalid duration/],
    ["heartbeat not shorter than lease", ["--node-name", "a", "--lease-duration", "3s"], {}, /shorter than/],
  ];
  for (const [name, argv, env, re] of usage) {
    void test(`usage error: ${name}`, () => {
      assert.throws(
        () => parseAgentSettings(argv, env),
        (e: unknown) => e instanceof UsageError && re.test(e.message),
      );
    });
  }

  void test("--help", () => assert.equal(parseAgentSettings(["--help"], {}), "help"));
});

void describe("flagDurationMs", () => {
  const cases: Array<[string, number]> = [
    ["500ms", 500],
    ["3s", 3000],
    ["1.5s", 1500],
    ["2m", 120_000],
  ];
  for (const [v, ms] of cases) void test(`${v} -> ${ms}`, () => assert.equal(flagDurationMs("x", v), ms));
  void test("zero is refused", () => assert.throws(() => flagDurationMs("x", "0s"), UsageError));
  void test("a number without a unit is refused (as the operator's flags refuse it)", () =>
    assert.throws(() => flagDurationMs("x", "7"), /--x: invalid duration "7"/));
});
