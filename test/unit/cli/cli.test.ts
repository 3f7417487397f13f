// The keepalived-vip command line end to end: a real process per case, YAML
// files in, exit status, stdout and stderr checked.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = join(import.meta.dirname, "../../..");
const MAIN = join(root, "src/main.ts");
const CRD = join(root, "crds/keepalived-vip.io_virtualips.yaml");

const samples = readdirSync(join(root, "config/samples"))
  .filter((n) => n.startsWith("virtualip-") && n.endsWith(".yaml"))
  .sort()
  .map((n) => join("config/samples", n));
/** The objects of the cluster the samples run in, with the pool their addresses and router ids come from. */
const cluster = [
  ...readdirSync(join(root, "config/samples/cluster"))
    .filter((n) => n.endsWith(".yaml"))
    .sort()
    .map((n) => join("config/samples/cluster", n)),
  "config/samples/virtualippool.yaml",
];
const allSamples = [...samples, ...cluster];

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI from source (tsx) in the repository root. */
function cli(args: string[], stdin = ""): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", MAIN, ...args], { cwd: root, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

/** Every stderr line is one of ours: no stack trace, no runtime noise. */
function assertCleanStderr(stderr: string): void {
  for (const line of stderr.split("\n").filter((l) => l !== "")) {
    assert.match(line, /^(error: |warning: |Run 'keepalived-vip)/, `unexpected stderr line: ${line}`);
  }
}

function tempDir(): { dir: string; [Symbol.dispose]: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "keepalived-vip-cli-"));
  return { dir, [Symbol.dispose]: () => rmSync(dir, { recursive: true, force: true }) };
}

void describe("keepalived-vip help", { concurrency: true }, () => {
  void test("--help lists the subcommands on stdout", async () => {
    const r = await cli(["--help"]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^Usage: keepalived-vip <subcommand>/);
    assert.match(r.stdout, /^ {2}render {2}/m);
    assert.match(r.stdout, /^ {2}crd {5}/m);
    assert.equal(r.stderr, "");
  });

  void test("no arguments prints the usage on stderr and exits 2", async () => {
    const r = await cli([]);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /^Usage: keepalived-vip/);
  });

  for (const args of [
    ["render", "--help"],
    ["render", "-h"],
    ["help", "render"],
  ]) {
    void test(`${args.join(" ")} shows the render options`, async () => {
      const r = await cli(args);
      assert.equal(r.code, 0);
      assert.match(r.stdout, /^Usage: keepalived-vip render --node NAME/);
      for (const flag of ["--node NAME", "--all", "--out DIR", "--default-interface IF", "--runtime-dir DIR", "--min-advert-interval D"])
        assert.ok(r.stdout.includes(flag), flag);
      assert.equal(r.stderr, "");
    });
  }

  void test("crd --help describes crd", async () => {
    const r = await cli(["crd", "--help"]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^Usage: keepalived-vip crd/);
  });
});

void describe("keepalived-vip crd", () => {
  void test("prints exactly the committed CRD", async () => {
    const r = await cli(["crd"]);
    assert.equal(r.code, 0);
    assert.equal(r.stderr, "");
    assert.ok(r.stdout === readFileSync(CRD, "utf8"), "crd output differs from crds/ (run `make generate`)");
  });
});

void describe("keepalived-vip render of the samples", { concurrency: true }, () => {
  void test("--node node-a prints node-a's keepalived.conf with every sample instance", async () => {
    const r = await cli(["render", "--node", "node-a", ...allSamples]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, "", "the samples render without problems");
    for (const expected of [
      "router_id node-a",
      "virtual_router_id 51",
      "virtual_router_id 52",
      "virtual_router_id 60",
      "virtual_router_id 70",
      "192.0.2.50/32",
      "2001:db8::50/128",
      "unicast_src_ip 192.0.2.11",
      "unicast_src_ip 2001:db8::11",
      "virtual_server 192.0.2.60 80",
      "real_server 198.51.100.21 8080",
      "lb_algo wlc",
      "priority 150",
      "/run/keepalived-vip/notify.fifo",
    ]) {
      assert.ok(r.stdout.includes(expected), `node-a config lacks ${expected}`);
    }
    assert.ok(!r.stdout.includes("198.51.100.23"), "a terminating endpoint is a real server");
  });

  void test("node-c, a control-plane node, carries no instance of the IPVS sample that leaves it out", async () => {
    const r = await cli(["render", "--node", "node-c", ...allSamples]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.includes("virtual_router_id 51"));
    assert.ok(!r.stdout.includes("virtual_router_id 60"));
  });

  void test("--default-interface and --runtime-dir reach the config", async () => {
    const r = await cli(["render", "--node", "node-b", "--default-interface", "ens3", "--runtime-dir", "/var/run/kv", ...allSamples]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.includes("interface ens3"));
    assert.ok(!r.stdout.includes("interface eth0"));
    assert.ok(r.stdout.includes("/var/run/kv/notify.fifo"));
  });

  void test("--min-advert-interval: below it (default 100ms) a VirtualIP is a warning and left out, as the operator would", async () => {
    using tmp = tempDir();
    const fast = join(tmp.dir, "fast.yaml");
    writeFileSync(
      fast,
      readFileSync(join(root, "config/samples/virtualip-basic.yaml"), "utf8").replace(
        /spec:\n/,
        "spec:\n  vrrp: { version: 3, advertisementInterval: 20ms }\n",
      ),
    );
    const refused = await cli(["render", "--node", "node-a", fast, ...cluster]);
    assert.equal(refused.code, 0, refused.stderr);
    assert.match(
      refused.stderr,
      /^warning: VirtualIP default\/nginx: spec\.vrrp\.advertisementInterval: 20ms is below the smallest advert interval this cluster allows, 100ms/m,
    );
    assert.ok(!refused.stdout.includes("virtual_router_id 51"), "a VirtualIP below the floor was rendered");
    const allowed = await cli(["render", "--node", "node-a", "--min-advert-interval", "20ms", fast, ...cluster]);
    assert.equal(allowed.code, 0, allowed.stderr);
    assert.equal(allowed.stderr, "");
    assert.match(allowed.stdout, /virtual_router_id 51\n[^]*advert_int 0\.02\b/);
  });

  void test("- reads stdin", async () => {
    const stdin = readFileSync(join(root, "config/samples/virtualip-basic.yaml"), "utf8");
    const r = await cli(["render", "--node", "node-b", "-", ...cluster], stdin);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.includes("virtual_router_id 51"));
    assert.ok(!r.stdout.includes("virtual_router_id 60"));
  });

  void test("without a pool nothing is rendered and each VirtualIP is a NoPool warning", async () => {
    const noPool = cluster.filter((f) => !f.endsWith("virtualippool.yaml"));
    const r = await cli(["render", "--node", "node-a", ...samples, ...noPool]);
    assert.equal(r.code, 0, r.stderr);
    assertCleanStderr(r.stderr);
    for (const name of ["nginx", "nginx-ipv6", "web", "web-vrrp2"]) {
      assert.match(r.stderr, new RegExp(`^warning: VirtualIP default/${name}: spec\\.address: no VirtualIPPool is in use`, "m"));
    }
    assert.ok(!r.stdout.includes("vrrp_instance"), "a VirtualIP was rendered without a pool");
  });

  void test("an address outside the pool is refused like the operator refuses it", async () => {
    const stdin = readFileSync(join(root, "config/samples/virtualip-basic.yaml"), "utf8").replace("address: 192.0.2.50", "address: 192.0.2.150");
    const r = await cli(["render", "--node", "node-a", "-", ...cluster], stdin);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^warning: VirtualIP default\/nginx: spec\.address: 192\.0\.2\.150 is not in any VirtualIPPool that admits namespace default$/m);
    assert.ok(!r.stdout.includes("192.0.2.150"), "an address outside every pool was rendered");
  });

  void test("the kustomization among the inputs is ignored with a warning", async () => {
    const r = await cli(["render", "--node", "node-a", "config/samples/kustomization.yaml", ...allSamples]);
    assert.equal(r.code, 0);
    assert.match(r.stderr, /^warning: config\/samples\/kustomization\.yaml: ignored Kustomization/);
    assertCleanStderr(r.stderr);
  });

  void test("--all --out DIR writes one file per node, prints the names, and matches --node", async () => {
    using tmp = tempDir();
    const out = join(tmp.dir, "out");
    const r = await cli(["render", "--all", "--out", out, ...allSamples]);
    assert.equal(r.code, 0, r.stderr);
    const names = ["node-a.conf", "node-b.conf", "node-c.conf"];
    assert.deepEqual(readdirSync(out).sort(), names);
    assert.deepEqual(
      r.stdout.trim().split("\n"),
      names.map((n) => join(out, n)),
    );
    for (const name of names) assert.equal(statSync(join(out, name)).mode & 0o777, 0o600, `${name} mode`);
    const single = await cli(["render", "--node", "node-b", ...allSamples]);
    assert.equal(readFileSync(join(out, "node-b.conf"), "utf8"), single.stdout);
  });

  void test("a problem is a warning naming the VirtualIP, never the password", async () => {
    using tmp = tempDir();
    const password = "ninechars";
    const secret = join(tmp.dir, "secret.yaml");
    const vip = readFileSync(join(root, "config/samples/virtualip-vrrp2-auth.yaml"), "utf8").replace("password: ch4ng3Me", `password: ${password}`);
    writeFileSync(secret, vip);
    const r = await cli(["render", "--node", "node-a", secret, ...cluster]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^warning: VirtualIP default\/web-vrrp2: spec\.vrrp\.authSecretRef: /m);
    assert.ok(!r.stderr.includes(password) && !r.stdout.includes(password), "password printed");
    assert.ok(!r.stdout.includes("virtual_router_id 70"), "VirtualIP with a bad password rendered");
  });
});

void describe("keepalived-vip bad input", { concurrency: true }, () => {
  const cases: { name: string; args: (dir: string) => string[]; files?: Record<string, string>; code: number; stderr: RegExp }[] = [
    {
      name: "broken YAML names file and line",
      files: { "broken.yaml": "apiVersion: v1\nkind: Node\nmetadata:\n  name: a\n   oops: [\n" },
      args: (d) => ["render", "--node", "node-a", join(d, "broken.yaml")],
      code: 1,
      stderr: /^error: .*broken\.yaml:5:\d+: invalid YAML: /,
    },
    {
      name: "invalid VirtualIP names the object and spec.virtualRouterId",
      files: { "vip.yaml": readFileSync(join(root, "config/samples/virtualip-basic.yaml"), "utf8").replace("virtualRouterId: 51", "virtualRouterId: 0") },
      args: (d) => ["render", "--node", "node-a", join(d, "vip.yaml"), ...cluster],
      code: 1,
      stderr: /^error: .*vip\.yaml: VirtualIP default\/nginx: spec\.virtualRouterId: Too small/,
    },
    {
      name: "unknown node lists the known ones",
      args: () => ["render", "--node", "node-x", ...allSamples],
      code: 1,
      stderr: /^error: node "node-x" is not in the input \(nodes: node-a, node-b, node-c\)/,
    },
    { name: "missing file", args: () => ["render", "--node", "node-a", "no-such.yaml"], code: 1, stderr: /^error: no-such\.yaml: cannot read: no such file/ },
    { name: "no files", args: () => ["render", "--node", "node-a"], code: 2, stderr: /^error: no input files/ },
    { name: "neither --node nor --all", args: () => ["render", ...allSamples], code: 2, stderr: /^error: say which node/ },
    { name: "--all without --out", args: () => ["render", "--all", ...allSamples], code: 2, stderr: /^error: --all needs --out DIR/ },
    { name: "unknown render flag", args: () => ["render", "--nodes", "a", "x.yaml"], code: 2, stderr: /^error: Unknown option '--nodes'/ },
    {
      name: "interface name that could inject config",
      args: () => ["render", "--node", "node-a", "--default-interface", "eth0}", ...allSamples],
      code: 2,
      stderr: /^error: --default-interface "eth0}" is not a plain interface name/,
    },
    {
      name: "an advert floor below VRRPv3's 10ms",
      args: () => ["render", "--node", "node-a", "--min-advert-interval", "5ms", ...allSamples],
      code: 2,
      stderr: /^error: --min-advert-interval "5ms" is not a duration from 10ms to 255s/,
    },
    { name: "unknown subcommand", args: () => ["frobnicate"], code: 2, stderr: /^error: unknown subcommand "frobnicate"/ },
    { name: "unknown top-level flag", args: () => ["--frobnicate"], code: 2, stderr: /^error: unknown option "--frobnicate"/ },
  ];
  for (const c of cases) {
    void test(`${c.name}: exit ${c.code}, message on stderr, nothing on stdout`, async () => {
      using tmp = tempDir();
      for (const [name, text] of Object.entries(c.files ?? {})) writeFileSync(join(tmp.dir, name), text);
      const r = await cli(c.args(tmp.dir));
      assert.equal(r.code, c.code, r.stderr);
      assert.equal(r.stdout, "");
      assert.match(r.stderr, c.stderr);
      assertCleanStderr(r.stderr);
      if (c.code === 2 && c.args("")[0] === "render") assert.match(r.stderr, /Run 'keepalived-vip render --help' for usage\./);
    });
  }
});
