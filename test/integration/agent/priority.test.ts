// keepalived's VRRP process priority with real keepalived in network
// namespaces: the rendered global_defs (vrrp_priority) takes effect when the
// process may raise its priority (CAP_SYS_NICE), survives reloads, and
// keepalived still starts and serves VRRP, with a warning, when it may not.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { API_VERSION, KIND, parseVirtualIP } from "../../../src/api/index.js";
import { keepalivedArgs } from "../../../src/agent/keepalived.js";
import { runtimePaths } from "../../../src/agent/runtime.js";
import { planCluster, renderNodeConfigs } from "../../../src/render/index.js";
import { createNodes, type NetNode, type NodeProcess, type Nodes } from "../../support/netns.js";
import { sleep } from "../../support/process.js";
import { testPool } from "../../support/pools.js";

const RUNTIME = "/run/keepalived-vip";

function renderedConfig(node: string): string {
  const res = parseVirtualIP({
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name: "web", namespace: "default", creationTimestamp: "2024-01-01T00:00:00Z" },
    spec: {
      serviceRef: { name: "web" },
      address: "192.0.2.50",
      virtualRouterId: 51,
      forwarding: "kube-proxy",
      vrrp: { version: 3, advertisementInterval: "100ms" },
    },
  });
  if (!res.ok) throw new Error(res.error);
  const plan = planCluster({
    virtualIPs: [res.value],
    nodes: ["node-a", "node-b"].map((name, i) => ({ metadata: { name }, status: { addresses: [{ type: "InternalIP", address: `192.0.2.${11 + i}` }] } })),
    services: [{ metadata: { name: "web", namespace: "default" }, spec: { type: "LoadBalancer", ports: [{ port: 80 }] } }],
    endpointSlices: [],
    secrets: [],
    nodeInterfaces: {},
    pools: [testPool()],
  });
  const found = renderNodeConfigs(plan).find((n) => n.node === node);
  assert.ok(found, `a config for ${node}`);
  return found.config;
}

/** Nice value (field 19 of /proc/<pid>/stat) and scheduling policy (field 41) of a process. */
function schedOf(pid: number): { nice: number; policy: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // fields[0] is field 3 (state).
  return { nice: Number(fields[19 - 3]), policy: Number(fields[41 - 3]) };
}

async function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

function vrrpPid(node: NetNode): number | undefined {
  const file = join(node.runtimeDir, "vrrp.pid");
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, "utf8").trim());
  return Number.isInteger(pid) && pid > 0 && existsSync(`/proc/${pid}`) ? pid : undefined;
}

function logOf(p: NodeProcess): string {
  return p.logFile ? readFileSync(p.logFile, "utf8") : "";
}

void describe("keepalived VRRP process priority (real keepalived)", { timeout: 120_000 }, () => {
  let nodes: Nodes;
  before(async () => {
    nodes = await createNodes({ count: 2 });
  });
  after(async () => {
    await nodes.destroy();
  });

  function start(node: NetNode, withSysNice: boolean): NodeProcess {
    writeFileSync(join(node.runtimeDir, "keepalived.conf"), renderedConfig(node.name));
    const args = keepalivedArgs(runtimePaths(RUNTIME));
    if (withSysNice) return nodes.spawn(node, "keepalived", args);
    // capsh drops CAP_SYS_NICE from the bounding set; the exec'd keepalived (root) then lacks it.
    return nodes.spawn(node, "capsh", ["--drop=cap_sys_nice", "--", "-c", `exec keepalived ${args.join(" ")}`]);
  }

  void test("with CAP_SYS_NICE the VRRP process runs at nice -20 (SCHED_OTHER), and a reload keeps the same process at -20", async () => {
    const node = nodes.node("node-a");
    const ka = start(node, true);
    try {
      const pid = await waitFor("the VRRP process", () => vrrpPid(node));
      await waitFor("the VRRP process to set its priority", () => (schedOf(pid).nice === -20 ? true : undefined));
      assert.equal(schedOf(pid).policy, 0, "SCHED_OTHER, not realtime");
      for (let i = 0; i < 3; i++) {
        ka.child.kill("SIGHUP");
        await waitFor(`reload ${i + 1}`, () => ((logOf(ka).match(/Reload finished|Reload complete|Reloading/g) ?? []).length > i ? true : undefined));
        await sleep(1000);
      }
      assert.equal(vrrpPid(node), pid, `the VRRP process survived the reloads; keepalived said:\n${logOf(ka)}`);
      assert.equal(schedOf(pid).nice, -20);
      assert.doesNotMatch(logOf(ka), /exited due to signal|Unable to set process priority/);
    } finally {
      await ka.stop();
    }
  });

  void test("without CAP_SYS_NICE keepalived starts, logs that it cannot raise the priority, and serves VRRP at nice 0", async () => {
    const node = nodes.node("node-b");
    const ka = start(node, false);
    try {
      const pid = await waitFor("the VRRP process", () => vrrpPid(node));
      const status = readFileSync(`/proc/${pid}/status`, "utf8");
      assert.match(status, /^CapEff:\s*[0-9a-f]+$/m);
      assert.equal((BigInt(`0x${/^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1] ?? "0"}`) >> 23n) % 2n, 0n, "CAP_SYS_NICE was dropped");
      await waitFor("a VRRP state", () => (/Entering (MASTER|BACKUP) STATE/.test(logOf(ka)) ? true : undefined));
      assert.match(logOf(ka), /Unable to set process priority to -20 - Permission denied/);
      assert.equal(schedOf(pid).nice, 0);
      assert.doesNotMatch(logOf(ka), /exited due to signal/);
    } finally {
      await ka.stop();
    }
  });
});
