// The agent's metric names and labels: vrrp_instance (never Prometheus's own
// `instance`), the info series that maps it to VirtualIPs and addresses,
// build_info, and unprefixed Node.js process metrics.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createAgentMetrics, setInstanceInfo, setInstanceState } from "../../../src/agent/metrics.js";
import { createOperatorMetrics } from "../../../src/operator/metrics.js";

void describe("agent metrics", () => {
  void test("the VRRP state is labelled vrrp_instance, not instance", async () => {
    const m = createAgentMetrics(false);
    setInstanceState(m, "vip_4_51", "MASTER");
    const text = await m.registry.metrics();
    assert.match(text, /^keepalived_vip_agent_vrrp_state\{vrrp_instance="vip_4_51",state="MASTER"\} 1$/m);
    assert.doesNotMatch(text, /[{,]instance="/);
  });

  void test("vrrp_instance_info maps each instance to its VirtualIPs and addresses, and forgets dropped ones", async () => {
    const m = createAgentMetrics(false);
    setInstanceInfo(m, [
      { instance: "vip_4_51", addresses: ["192.0.2.50", "192.0.2.51"], virtualIPs: ["default/web", "shop/api"] },
      { instance: "vip_6_52_eth0", addresses: ["2001:db8::52"], virtualIPs: ["default/v6"] },
    ]);
    let text = await m.registry.metrics();
    assert.match(
      text,
      /^keepalived_vip_agent_vrrp_instance_info\{vrrp_instance="vip_4_51",namespace="default",name="web",address="192\.0\.2\.50,192\.0\.2\.51"\} 1$/m,
    );
    assert.match(
      text,
      /^keepalived_vip_agent_vrrp_instance_info\{vrrp_instance="vip_4_51",namespace="shop",name="api",address="192\.0\.2\.50,192\.0\.2\.51"\} 1$/m,
    );
    assert.match(text, /^keepalived_vip_agent_vrrp_instance_info\{vrrp_instance="vip_6_52_eth0",namespace="default",name="v6",address="2001:db8::52"\} 1$/m);
    setInstanceInfo(m, [{ instance: "vip_6_52_eth0", addresses: ["2001:db8::52"], virtualIPs: ["default/v6"] }]);
    text = await m.registry.metrics();
    assert.doesNotMatch(text, /vrrp_instance="vip_4_51"/);
  });

  void test("process metrics carry no prefix; both components export build_info", async () => {
    for (const [component, registry] of [
      ["agent", createAgentMetrics(true).registry],
      ["operator", createOperatorMetrics(true).registry],
    ] as const) {
      const text = await registry.metrics();
      assert.match(text, /^process_cpu_user_seconds_total /m, `${component}: process_cpu_user_seconds_total`);
      assert.match(text, /^nodejs_heap_size_used_bytes /m, `${component}: nodejs_heap_size_used_bytes`);
      assert.doesNotMatch(text, /^keepalived_vip_(agent|operator)_(process|nodejs)_/m);
      assert.match(text, new RegExp(`^keepalived_vip_build_info\\{component="${component}",`, "m"));
    }
  });
});
