// The container image, built for real with podman (make image) and run: the
// CLI as the non-root default user, and keepalived as the agent runs it.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AGENT_CAPABILITIES, ensureImage, podman, runAgentContainer } from "../../support/image.js";
import { REPO_ROOT } from "../../support/k8sbins.js";
import { runCommand, sleep } from "../../support/process.js";
import { currentRun } from "../../support/runstate.js";

const NODE_ADDRESS = "198.51.100.11";
const VIP = "198.51.100.50";

/** A network namespace with eth0 (one end of a veth pair whose peer sits in a second namespace). */
interface TestNetns {
  name: string;
  path: string;
  destroy(): Promise<void>;
}

async function createNetns(suffix: string): Promise<TestNetns> {
  const run = currentRun();
  const name = `kvo${run.runId}${suffix}`;
  const peer = `${name}p`;
  const ip = (args: string[]) => runCommand("ip", args);
  for (const ns of [name, peer]) {
    await ip(["netns", "add", ns]);
    run.add("netns", ns);
  }
  const destroy = async (): Promise<void> => {
    for (const ns of [name, peer]) {
      await runCommand("ip", ["netns", "del", ns], { check: false });
      run.remove("netns", ns);
    }
  };
  try {
    await ip(["link", "add", "veth0", "netns", name, "type", "veth", "peer", "name", "veth1", "netns", peer]);
    await ip(["-n", name, "link", "set", "veth0", "name", "eth0"]);
    await ip(["-n", name, "link", "set", "lo", "up"]);
    await ip(["-n", name, "link", "set", "eth0", "up"]);
    await ip(["-n", peer, "link", "set", "veth1", "up"]);
    await ip(["-n", name, "addr", "add", `${NODE_ADDRESS}/24`, "dev", "eth0"]);
  } catch (err) {
    await destroy();
    throw err;
  }
  return { name, path: `/run/netns/${name}`, destroy };
}

/** Addresses on eth0 of a namespace, as the host sees them. */
async function addressesOf(ns: TestNetns): Promise<string[]> {
  const res = await runCommand("ip", ["-n", ns.name, "-j", "addr", "show", "dev", "eth0"]);
  const links = JSON.parse(res.stdout) as { addr_info: { local: string }[] }[];
  return links.flatMap((l) => l.addr_info.map((a) => a.local));
}

/** Runs a container to completion with the agent's confinement, or none of it. */
function runOnce(image: string, opts: { netns: TestNetns; caps: readonly string[]; entrypoint: string; args: string[] }) {
  return podman(
    [
      "run",
      "--rm",
      "--runtime",
      "runc",
      "--pull=never",
      "--network",
      `ns:${opts.netns.path}`,
      "--cap-drop",
      "all",
      ...(opts.caps.length > 0 ? ["--cap-add", opts.caps.join(",")] : []),
      "--user",
      "0",
      "--entrypoint",
      opts.entrypoint,
      image,
      ...opts.args,
    ],
    { check: false },
  );
}

const KEEPALIVED_CONF = `global_defs {
  router_id image-test
}
vrrp_instance VI_51 {
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority 100
  advert_int 1
  virtual_ipaddress {
    ${VIP}/32 dev eth0
  }
}
`;

void describe("container image (podman, runc)", () => {
  const cleanups: (() => Promise<void>)[] = [];
  after(async () => {
    for (const fn of cleanups.reverse()) await fn();
  });

  void test("make image builds the image", async () => {
    const image = await ensureImage();
    const res = await podman(["image", "inspect", "--format", "{{.Config.User}}|{{json .Config.Entrypoint}}", image]);
    // tini is PID 1 so orphaned keepalived children are reaped.
    assert.equal(res.stdout.trim(), '65532:65532|["/usr/bin/tini","--","node","/app/dist/main.js"]');
  });

  void test("the image runs the pinned Node.js 24 and carries no npm, npx or corepack", async () => {
    const image = await ensureImage();
    const pinned = /^NODE_VERSION=(\S+)$/m.exec(readFileSync(join(REPO_ROOT, "hack/node-toolchain.env"), "utf8"))?.[1];
    const res = await podman(["run", "--rm", "--runtime", "runc", "--pull=never", "--entrypoint", "node", image, "--version"]);
    console.log(`node --version in ${image}: ${res.stdout.trim()}`);
    assert.equal(res.stdout.trim(), `v${pinned}`);
    assert.match(res.stdout, /^v24\./);
    const tools = await podman([
      "run",
      "--rm",
      "--runtime",
      "runc",
      "--pull=never",
      "--entrypoint",
      "sh",
      image,
      "-c",
      "command -v npm npx corepack; ls -d /usr/local/lib/node_modules /usr/lib/node_modules 2>/dev/null; true",
    ]);
    assert.equal(tools.stdout.trim(), "", `the runtime image holds no package manager:\n${tools.stdout}`);
  });

  void test("OCI labels and --version agree with package.json and the commit", async () => {
    const image = await ensureImage();
    const version = (JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { version: string }).version;
    const res = await podman(["image", "inspect", "--format", "{{json .Labels}}", image]);
    const labels = JSON.parse(res.stdout) as Record<string, string>;
    assert.equal(labels["org.opencontainers.image.version"], version);
    assert.equal(labels["org.opencontainers.image.licenses"], "Apache-2.0");
    assert.match(labels["org.opencontainers.image.source"] ?? "", /^https:\/\/github\.com\//);
    assert.match(labels["org.opencontainers.image.revision"] ?? "", /^[0-9a-f]{40}(-dirty)?$/);
    assert.ok(!Number.isNaN(Date.parse(labels["org.opencontainers.image.created"] ?? "")), "created is a timestamp");
    const v = await podman(["run", "--rm", "--runtime", "runc", "--pull=never", image, "--version"]);
    assert.equal(
      v.stdout,
      `keepalived-vip ${version} (commit ${labels["org.opencontainers.image.revision"]}, node v${/^v?(.*)$/.exec((await podman(["run", "--rm", "--runtime", "runc", "--pull=never", "--entrypoint", "node", image, "--version"])).stdout.trim())?.[1]})\n`,
    );
  });

  void test("the CLI runs as the non-root default user and lists every subcommand", async () => {
    const image = await ensureImage();
    const help = await podman(["run", "--rm", "--runtime", "runc", "--pull=never", image, "--help"], { check: false });
    assert.equal(help.code, 0, help.stderr);
    for (const sub of ["operator", "agent", "render", "crd"]) {
      assert.match(help.stdout, new RegExp(`^\\s+${sub}\\s`, "m"), `--help lists ${sub}:\n${help.stdout}`);
    }
    const id = await podman(["run", "--rm", "--runtime", "runc", "--pull=never", "--entrypoint", "id", image, "-u"]);
    assert.equal(id.stdout.trim(), "65532");
  });

  void test("the image prints the same CRD as crds/", async () => {
    const image = await ensureImage();
    const res = await podman(["run", "--rm", "--runtime", "runc", "--pull=never", image, "crd"]);
    assert.equal(res.stdout, readFileSync(join(REPO_ROOT, "crds/keepalived-vip.io_virtualips.yaml"), "utf8"));
  });

  void test("keepalived and ip work with only NET_ADMIN, NET_RAW, NET_BROADCAST, SYS_NICE and are refused without them", async () => {
    const image = await ensureImage();
    const ns = await createNetns("c");
    cleanups.push(() => ns.destroy());
    const version = await runOnce(image, { netns: ns, caps: AGENT_CAPABILITIES, entrypoint: "keepalived", args: ["--version"] });
    assert.equal(version.code, 0, version.stderr);
    assert.match(version.stdout + version.stderr, /Keepalived v2\./);

    const add = ["addr", "add", "198.51.100.60/32", "dev", "eth0"];
    const denied = await runOnce(image, { netns: ns, caps: [], entrypoint: "ip", args: add });
    assert.notEqual(denied.code, 0, "ip addr add without NET_ADMIN must fail");
    assert.match(denied.stderr, /Operation not permitted/);
    assert.ok(!(await addressesOf(ns)).includes("198.51.100.60"));

    const allowed = await runOnce(image, { netns: ns, caps: AGENT_CAPABILITIES, entrypoint: "ip", args: add });
    assert.equal(allowed.code, 0, allowed.stderr);
    assert.ok((await addressesOf(ns)).includes("198.51.100.60"), "the address was added in the node namespace");
  });

  void test("keepalived in an agent container becomes MASTER and holds the virtual IP in the node namespace", async () => {
    const image = await ensureImage();
    const ns = await createNetns("k");
    cleanups.push(() => ns.destroy());
    const dir = mkdtempSync(join(tmpdir(), "kvo-image-"));
    cleanups.push(() => Promise.resolve(rmSync(dir, { recursive: true, force: true })));
    writeFileSync(join(dir, "keepalived.conf"), KEEPALIVED_CONF);

    const c = await runAgentContainer({
      name: "keepalived",
      netnsPath: ns.path,
      image,
      entrypoint: "keepalived",
      args: ["--dont-fork", "--log-console", "--use-file=/etc/keepalived-vip/keepalived.conf"],
      mounts: [{ host: dir, container: "/etc/keepalived-vip" }],
    });
    cleanups.push(() => c.remove(0));

    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && !(await addressesOf(ns)).includes(VIP)) await sleep(200);
    const logs = await c.logs();
    assert.ok((await addressesOf(ns)).includes(VIP), `the VIP appeared on eth0; keepalived said:\n${logs}`);
    assert.match(logs, /\(VI_51\) Entering MASTER STATE/);
    const caps = await c.exec(["sh", "-c", "grep CapEff /proc/1/status"]);
    // NET_BROADCAST (11), NET_ADMIN (12), NET_RAW (13), SYS_NICE (23): nothing else.
    assert.equal(caps.stdout.trim().split(/\s+/)[1], "0000000000803800");

    await c.kill("SIGTERM");
    const stopDeadline = Date.now() + 15_000;
    while (Date.now() < stopDeadline && (await addressesOf(ns)).includes(VIP)) await sleep(200);
    assert.ok(!(await addressesOf(ns)).includes(VIP), "keepalived removed the VIP when it stopped");
  });
});
