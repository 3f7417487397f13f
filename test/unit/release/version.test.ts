// One version source: package.json. The chart, the kustomize image tag, the
// CHANGELOG, --version and the build_info metric agree with it; the runtime is
// the pinned Node.js 24 and the production tree holds no copy of a package
// older than the release that fixed its advisory (docs/supply-chain.md).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import yaml from "js-yaml";
import { Registry } from "prom-client";
import { runMain } from "../../../src/cli/dispatch.js";
import { buildInfo, registerBuildInfo } from "../../../src/shared/version.js";

const ROOT = join(fileURLToPath(import.meta.url), "../../../..");
const read = (p: string): string => readFileSync(join(ROOT, p), "utf8");
const pkg = JSON.parse(read("package.json")) as { version: string; license: string; engines: { node: string }; devDependencies: Record<string, string> };
const toolchain = Object.fromEntries(
  read("hack/node-toolchain.env")
    .split("\n")
    .filter((l) => /^[A-Z_a-z0-9]+=/.test(l))
    .map((l) => l.split("=", 2) as [string, string]),
);

/** Compares dotted versions numerically: <0, 0, >0. */
function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.-]/).map(Number);
  const pb = b.split(/[.-]/).map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

void describe("version and release files", () => {
  void test("Chart.yaml version/appVersion, the kustomize image tag and CHANGELOG.md follow package.json", () => {
    const chart = yaml.load(read("charts/keepalived-vip-operator/Chart.yaml")) as { version: string; appVersion: string };
    assert.equal(chart.version, pkg.version);
    assert.equal(chart.appVersion, pkg.version);
    assert.match(read("config/default/kustomization.yaml"), new RegExp(`newTag: ${pkg.version.replace(/\./g, "\\.")}\\n`));
    assert.match(read("CHANGELOG.md"), new RegExp(`^## ${pkg.version.replace(/\./g, "\\.")}$`, "m"), "CHANGELOG.md has an entry for this version");
  });

  void test("LICENSE is the Apache License 2.0 that package.json names", () => {
    assert.equal(pkg.license, "Apache-2.0");
    const text = read("LICENSE");
    assert.match(text, /^\s*Apache License\n\s*Version 2\.0, January 2004/);
    assert.match(text, /END OF TERMS AND CONDITIONS/);
  });

  void test("--version prints package.json's version, the commit and the Node.js version", async () => {
    let out = "";
    const code = await runMain([], ["--version"], { stdout: (t) => (out += t), stderr: () => undefined });
    assert.equal(code, 0);
    const info = buildInfo();
    assert.equal(info.version, pkg.version);
    assert.equal(out, `keepalived-vip ${pkg.version} (commit ${info.revision}, node ${process.version})\n`);
  });

  void test("keepalived_vip_build_info carries the same version", async () => {
    const registry = new Registry();
    registerBuildInfo(registry, "operator");
    const text = await registry.metrics();
    assert.match(
      text,
      new RegExp(
        `^keepalived_vip_build_info\\{component="operator",version="${pkg.version.replace(/\./g, "\\.")}",revision="[^"]+",nodeversion="${process.version}"\\} 1$`,
        "m",
      ),
    );
  });
});

void describe("Node.js runtime", () => {
  void test("the tests run on the pinned Node.js 24 (make puts hack/install-node.sh's build first on the PATH)", () => {
    console.log(`node ${process.version} (${process.execPath})`);
    assert.equal(process.version, `v${toolchain.NODE_VERSION}`);
    assert.match(process.version, /^v24\./);
  });

  void test("engines and @types/node name the same major", () => {
    const major = toolchain.NODE_VERSION!.split(".")[0];
    assert.equal(pkg.engines.node, `>=${major}`);
    assert.match(pkg.devDependencies["@types/node"] ?? "", new RegExp(`^\\^${major}\\.`));
  });
});

void describe("production dependency tree", () => {
  const lock = JSON.parse(read("package-lock.json")) as { packages: Record<string, { version?: string; dev?: boolean }> };
  /** Every production copy of a package in the lock file, by path. */
  const copies = (name: string) =>
    Object.entries(lock.packages).filter(([path, p]) => !p.dev && (path === `node_modules/${name}` || path.endsWith(`/node_modules/${name}`)));

  // The fixed-in releases of docs/supply-chain.md's "Fixed by overrides".
  const FIXED: Record<string, string> = { "form-data": "2.5.4", "tough-cookie": "4.1.3", qs: "6.14.1", "jsonpath-plus": "10.3.0", tar: "7.5.24" };
  for (const [name, fixed] of Object.entries(FIXED)) {
    void test(`every production copy of ${name} is ${fixed} or later`, () => {
      const found = copies(name);
      assert.ok(found.length > 0, `${name} is in the production tree`);
      for (const [path, p] of found) assert.ok(compareVersions(p.version ?? "0", fixed) >= 0, `${path} is ${p.version}, older than ${fixed}`);
      assert.match(read("docs/supply-chain.md"), new RegExp(`\\| \`${name}\``), `docs/supply-chain.md lists ${name}`);
    });
  }

  void test("the user's chosen operator framework and Kubernetes client stay", () => {
    assert.equal(copies("@dot-i/k8s-operator")[0]?.[1].version, "1.3.9");
    assert.match(copies("@kubernetes/client-node")[0]?.[1].version ?? "", /^0\.20\./);
  });
});

void describe("kube_writes_total resource label", () => {
  void test("applied kinds are counted by their API resource, as the other writes", async () => {
    const { resourceOf } = await import("../../../src/kube/client.js");
    assert.equal(resourceOf("Secret"), "secrets");
    assert.equal(resourceOf("DaemonSet"), "daemonsets");
    assert.equal(resourceOf("Service"), "services");
    assert.equal(resourceOf("Lease"), "leases");
    assert.equal(resourceOf("VirtualIP"), "virtualips");
    assert.equal(resourceOf("NetworkPolicy"), "networkpolicies");
    assert.equal(resourceOf("Ingress"), "ingresses");
  });
});
