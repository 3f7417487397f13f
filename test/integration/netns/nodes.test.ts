// Network-namespace nodes: they reach each other and the API server over the
// bridge, each has its own /run/keepalived-vip, links can be cut, and nothing
// is left behind after destroy(), a signal, a SIGKILL (then the sweep).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { randomBytes } from "node:crypto";
import {
  BRIDGE_IPV4,
  BRIDGE_IPV6,
  createNodes,
  NODE_SANS,
  REPO_ROOT,
  runCommand,
  RUN_STATE_ROOT,
  startControlPlane,
  sweepStaleRuns,
  type ControlPlane,
  type Nodes,
} from "../../support/index.js";
import { currentRun } from "../../support/runstate.js";

let cp: ControlPlane;
let nodes: Nodes;

before(async () => {
  cp = await startControlPlane({ extraSANs: [...NODE_SANS] });
  const t0 = Date.now();
  nodes = await createNodes({ count: 3, withClient: true, hostPorts: [cp.port] });
  console.log(`Control plane ready in ${cp.startupMs} ms, 3 nodes and a client in ${Date.now() - t0} ms`);
});

after(async () => {
  await nodes?.destroy();
  await cp?.stop();
});

/** The process's state letter from /proc (R, S, D, Z, ...), or undefined once it is gone. */
function procState(pid: number): string | undefined {
  try {
    return /^\d+ \(.*\) (\S)/s.exec(readFileSync(`/proc/${pid}/stat`, "utf8"))?.[1];
  } catch {
    return undefined;
  }
}

/** Whether `pid` runs: a zombie (killed, not yet reaped by its new parent) has ended. */
function alive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  const state = procState(pid);
  return state !== undefined && state !== "Z" && state !== "X";
}

async function waitFor(what: string, cond: () => boolean, timeoutMs = 10_000, detail: () => string = () => ""): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}${detail()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Waits until a daemon of a dead test process has ended. SIGKILL from the
 * kernel (pdeathsig) takes effect only once the process leaves an uninterruptible
 * wait (etcd's fsync on a loaded disk), so this allows 30 s and names the state.
 */
function waitForDaemonEnd(pid: number): Promise<void> {
  return waitFor(
    `daemon ${pid} to end`,
    () => !alive(pid),
    30_000,
    () => ` (state ${procState(pid)}: ${commOf(pid)})`,
  );
}

function commOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").slice(0, 2).join(" ");
  } catch {
    return "gone";
  }
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((r) => child.once("exit", () => r()));
}

async function netnsList(): Promise<string> {
  return (await runCommand("ip", ["netns", "list"])).stdout;
}

async function ping(from: string, to: string, tries = 1): Promise<boolean> {
  for (let i = 0; i < tries; i++) {
    const res = await nodes.exec(from, "ping", ["-c1", "-W1", to], { check: false });
    if (res.code === 0) return true;
  }
  return false;
}

void describe("node namespaces", () => {
  void test("each node has lo up and eth0 with its addresses, IPv6 usable at once (no DAD)", async () => {
    for (const node of [...nodes.nodes, nodes.client!]) {
      const res = await nodes.exec(node, "ip", ["-j", "addr", "show"]);
      const links = JSON.parse(res.stdout) as { ifname: string; operstate: string; flags: string[]; addr_info: { local: string; tentative?: boolean }[] }[];
      const lo = links.find((l) => l.ifname === "lo");
      const eth0 = links.find((l) => l.ifname === "eth0");
      assert.ok(lo?.flags.includes("UP"), `${node.name}: lo is down`);
      assert.equal(eth0?.operstate, "UP", `${node.name}: eth0 not UP`);
      const addrs = eth0.addr_info.map((a) => a.local);
      assert.ok(addrs.includes(node.ipv4) && addrs.includes(node.ipv6), `${node.name}: ${addrs.join(" ")}`);
      assert.ok(!eth0.addr_info.some((a) => a.tentative), `${node.name}: tentative address`);
    }
    assert.deepEqual(
      nodes.nodes.map((n) => [n.name, n.ipv4, n.ipv6]),
      [
        ["node-a", "192.0.2.11", "2001:db8::11"],
        ["node-b", "192.0.2.12", "2001:db8::12"],
        ["node-c", "192.0.2.13", "2001:db8::13"],
      ],
    );
    assert.deepEqual([nodes.client?.ipv4, nodes.client?.ipv6], ["192.0.2.100", "2001:db8::100"]);
  });

  const pairs: [string, string][] = [
    ["node-a", "192.0.2.12"],
    ["node-b", "192.0.2.11"],
    ["node-c", "2001:db8::11"],
    ["client", "192.0.2.13"],
    ["client", "2001:db8::12"],
    ["node-a", BRIDGE_IPV4],
  ];
  for (const [from, to] of pairs) {
    void test(`${from} pings ${to} over the bridge`, async () => {
      assert.ok(await ping(from, to, 3), `${from} cannot reach ${to}`);
    });
  }

  void test("nodes have no route out of the node network", async () => {
    const res = await nodes.exec("node-a", "ip", ["route", "get", "198.51.100.1"], { check: false });
    assert.notEqual(res.code, 0);
    assert.match(res.stderr, /unreachable/i);
  });

  void test("the host's own addresses and routes are untouched", async () => {
    const addrs = await runCommand("ip", ["-o", "addr", "show"]);
    assert.ok(!addrs.stdout.includes(`${BRIDGE_IPV4}/`), "the bridge address leaked into the root namespace");
    assert.ok(!addrs.stdout.includes(`${BRIDGE_IPV6}/`), "the bridge address leaked into the root namespace");
    const links = await runCommand("ip", ["-o", "link", "show"]);
    assert.ok(!/^\d+: kvo/m.test(links.stdout), `a harness link in the root namespace:\n${links.stdout}`);
  });

  void test("a process in a node reaches the API server with the node kubeconfig", async () => {
    const res = await nodes.exec("node-b", cp.bins.kubectl, [`--kubeconfig=${cp.nodeKubeconfigPath!}`, "get", "--raw", "/readyz"]);
    assert.equal(res.stdout.trim(), "ok");
    assert.equal(cp.serverFor("node"), `https://${BRIDGE_IPV4}:${cp.port}`);
  });

  void test("a process in a node reaches the API server over IPv6", async () => {
    const server = `https://[${BRIDGE_IPV6}]:${cp.port}`;
    const res = await nodes.exec("node-c", cp.bins.kubectl, [`--kubeconfig=${cp.nodeKubeconfigPath!}`, `--server=${server}`, "get", "--raw", "/readyz"]);
    assert.equal(res.stdout.trim(), "ok");
  });

  void test("a ServiceAccount kubeconfig for node use works inside a node", async () => {
    const kubeconfig = await cp.kubeconfigFor("netns-test", "agent", { site: "node" });
    const res = await nodes.exec("node-a", cp.bins.kubectl, [`--kubeconfig=${kubeconfig}`, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"]);
    assert.equal(res.stdout, "system:serviceaccount:netns-test:agent");
  });

  void test("each node has a private /run/keepalived-vip", async () => {
    const marker = `marker-${randomBytes(4).toString("hex")}`;
    await nodes.exec("node-a", "sh", ["-c", `echo a > /run/keepalived-vip/${marker}`]);
    const inB = await nodes.exec("node-b", "ls", ["-A", "/run/keepalived-vip"]);
    assert.ok(!inB.stdout.includes(marker), "node-b sees node-a's file");
    assert.equal(readFileSync(join(nodes.node("node-a").runtimeDir, marker), "utf8"), "a\n");
    assert.ok(!existsSync(join("/run/keepalived-vip", marker)), "the host sees node-a's file");
  });

  void test("a spawned process runs inside its node and stops", async () => {
    const proc = nodes.spawn("node-b", "sh", ["-c", "ip -br addr show eth0; exec sleep 1000"]);
    await waitFor("its output", () => readFileSync(proc.logFile!, "utf8").includes("\n"));
    assert.match(readFileSync(proc.logFile!, "utf8"), /^eth0(@\S+)?\s+UP\s+192\.0\.2\.12\/24/);
    assert.ok(nodes.pids("node-b").includes(proc.child.pid!));
    assert.ok(!nodes.pids("node-a").includes(proc.child.pid!));
    await proc.stop();
    assert.ok(!alive(proc.child.pid));
    assert.ok(!nodes.pids("node-b").includes(proc.child.pid!));
  });

  void test("linkDown cuts a node off the bridge and linkUp brings it back", async () => {
    assert.ok(await ping("node-a", "192.0.2.13", 3), "no connectivity before");
    await nodes.linkDown("node-c");
    assert.ok(!(await ping("node-a", "192.0.2.13")), "node-c still reachable with its link down");
    const eth0 = await nodes.exec("node-c", "ip", ["-br", "link", "show", "eth0"]);
    assert.match(eth0.stdout, /LOWERLAYERDOWN|NO-CARRIER/);
    await nodes.linkUp("node-c");
    assert.ok(await ping("node-a", "192.0.2.13", 5), "node-c unreachable after linkUp");
  });
});

void describe("cleanup", () => {
  void test("destroy() leaves no namespace, link, process or directory behind", async () => {
    const other = await createNodes({ count: 2, prefix: "tmp" });
    const names = [...other.nodes.map((n) => n.netns), other.hubNetns];
    const proc = other.spawn("tmp-a", "sleep", ["1000"]);
    await waitFor("sleep in tmp-a", () => other.pids("tmp-a").length > 0);
    const before = await netnsList();
    for (const n of names) assert.ok(before.includes(n), `${n} not created`);
    // Both sets use the same addresses without interfering: each has its own bridge.
    assert.ok((await other.exec("tmp-a", "ping", ["-c1", "-W1", "192.0.2.12"], { check: false })).code === 0);
    await other.destroy();
    await exited(proc.child);
    const after = await netnsList();
    for (const n of names) assert.ok(!after.includes(n), `${n} left behind`);
    assert.ok(!existsSync(other.nodes[0]!.dir), "node directory left behind");
    const links = await runCommand("ip", ["-o", "link", "show"]);
    assert.ok(!/^\d+: kvo/m.test(links.stdout));
    assert.ok(await ping("node-a", "192.0.2.12"), "destroying one set broke another");
  });

  void test("the stale-run sweep removes what a dead run left and spares live runs", async () => {
    const fakeRun = (): string =>
      `zz${randomBytes(8)
        .toString("hex")
        .replace(/[^0-9a-z]/g, "")
        .slice(0, 5)}`;
    const deadId = fakeRun();
    const orphanNs = `kvo${fakeRun()}-orphan`;
    const deadNs = `kvo${deadId}0-node-a`;
    const deadDir = mkdtempSync(join(tmpdir(), "kvo-dead-"));
    await runCommand("ip", ["netns", "add", deadNs]);
    await runCommand("ip", ["netns", "add", orphanNs]);
    const inNs = spawn("ip", ["netns", "exec", deadNs, "sleep", "1000"], { stdio: "ignore" });
    const onHost = spawn("sleep", ["1000"], { stdio: "ignore" });
    const owner = spawn("sleep", ["1000"], { stdio: "ignore" });
    await waitFor("the fake runs' processes", () => alive(inNs.pid) && alive(onHost.pid) && alive(owner.pid));
    const startTimeOf = (pid: number | undefined): number => Number(readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")[19]);
    // A live owner's run, to be left alone: owned by a sleeper with its real start time.
    const liveId = fakeRun();
    const liveNs = `kvo${liveId}0-hub`;
    await runCommand("ip", ["netns", "add", liveNs]);
    const writeRun = (runId: string, record: object): void => {
      mkdirSync(join(RUN_STATE_ROOT, runId), { recursive: true });
      writeFileSync(join(RUN_STATE_ROOT, runId, "run.json"), JSON.stringify({ runId, links: [], dirs: [], processes: [], ...record }));
    };
    // Dead: its owner pid is ours, but the start time does not match (pid reuse).
    writeRun(deadId, {
      owner: { pid: process.pid, startTime: 1 },
      netns: [deadNs],
      processes: [{ pid: onHost.pid, startTime: startTimeOf(onHost.pid) }],
      dirs: [deadDir],
    });
    writeRun(liveId, { owner: { pid: owner.pid, startTime: startTimeOf(owner.pid) }, netns: [liveNs] });
    try {
      let report = sweepStaleRuns();
      assert.ok(report.runs.includes(deadId), `dead run not swept: ${JSON.stringify(report)}`);
      assert.ok(report.netns.includes(deadNs) && report.netns.includes(orphanNs), JSON.stringify(report));
      await Promise.all([exited(inNs), exited(onHost)]);
      const list = await netnsList();
      assert.ok(!list.includes(deadNs) && !list.includes(orphanNs), list);
      assert.ok(!existsSync(deadDir), "the dead run's directory is left");
      assert.ok(!existsSync(join(RUN_STATE_ROOT, deadId)), "the dead run's state is left");
      // The live one, as long as its owner lived, was spared; now its owner is gone too.
      assert.ok(list.includes(liveNs), "a live run's namespace was swept");
      assert.ok(alive(owner.pid));
      owner.kill("SIGKILL");
      await exited(owner);
      report = sweepStaleRuns();
      assert.ok(report.runs.includes(liveId), JSON.stringify(report));
      assert.ok(!(await netnsList()).includes(liveNs));
      // This process's run was not touched.
      assert.ok(existsSync(nodes.node("node-a").netnsPath));
      assert.ok(existsSync(currentRun().dir));
    } finally {
      for (const c of [inNs, onHost, owner]) c.kill("SIGKILL");
      for (const ns of [deadNs, orphanNs, liveNs]) await runCommand("ip", ["netns", "delete", ns], { check: false });
    }
  });

  interface Held {
    runId: string;
    runDir: string;
    dataDir: string;
    daemons: number[];
    netns: string[];
  }

  async function startHolder(): Promise<{ child: ChildProcess; held: Held }> {
    const child = spawn(process.execPath, ["--import", "tsx", join(REPO_ROOT, "test/integration/netns/fixtures/hold.ts")], {
      cwd: REPO_ROOT,
      stdio: ["ignore", "pipe", "inherit"],
    });
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout }).once("line", resolve);
      child.once("exit", (code) => reject(new Error(`fixture exited ${code}`)));
    });
    const held = JSON.parse(line) as Held;
    assert.equal(held.daemons.length, 3);
    for (const pid of held.daemons) assert.ok(alive(pid), `daemon ${pid} not running`);
    return { child, held };
  }

  void test("a test process ended by SIGTERM removes its control plane and nodes on the way out", async () => {
    const { child, held } = await startHolder();
    child.kill("SIGTERM");
    await exited(child);
    assert.equal(child.exitCode, 128 + 15);
    for (const pid of held.daemons) await waitForDaemonEnd(pid);
    const list = await netnsList();
    for (const ns of held.netns) assert.ok(!list.includes(ns), `${ns} left behind`);
    assert.ok(!existsSync(held.dataDir), "control-plane directory left behind");
    assert.ok(!existsSync(held.runDir), "run state left behind");
  });

  void test("a test process killed by SIGKILL takes its daemons along; the next sweep removes the rest", async () => {
    const { child, held } = await startHolder();
    child.kill("SIGKILL");
    await exited(child);
    for (const pid of held.daemons) await waitForDaemonEnd(pid);
    // The namespaces outlive the SIGKILL until a sweep (this one, or one of another test process on this machine).
    sweepStaleRuns();
    const after = await netnsList();
    for (const ns of held.netns) assert.ok(!after.includes(ns), `${ns} left behind`);
    assert.ok(!existsSync(held.runDir));
    assert.ok(!existsSync(held.dataDir), "control-plane directory left behind");
    assert.ok(!readdirSync(RUN_STATE_ROOT).includes(held.runId));
  });
});
