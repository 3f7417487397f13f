// `make generate`: writes the VirtualIP CRD generated from the zod schema to
// crds/ (and to the Helm chart's crds/ folder and kustomize's config/crd/bases/
// when they exist).
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { CRD_FILE, renderVirtualIPCrd } from "../src/crd/index.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const chartCrds = join(root, "charts/keepalived-vip-operator/crds");
const kustomizeCrds = join(root, "config/crd/bases");

const crd = renderVirtualIPCrd();
const targets = [join(root, CRD_FILE)];
if (existsSync(chartCrds)) targets.push(join(chartCrds, "keepalived-vip.io_virtualips.yaml"));
if (existsSync(kustomizeCrds)) targets.push(join(kustomizeCrds, "keepalived-vip.io_virtualips.yaml"));
for (const target of targets) {
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, crd);
  console.log(`wrote ${target.slice(root.length + 1)}`);
}
