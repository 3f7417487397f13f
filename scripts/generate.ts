// `make generate`: writes the VirtualIP CRD generated from the zod schema to
// crds/ (and to the Helm chart's crds/ folder and kustomize's config/crd/bases/
// when they exist).
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { CRD_COPY_DIRS, CRD_FILE, renderVirtualIPCrd } from "../src/crd/index.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

const crd = renderVirtualIPCrd();
const copies = CRD_COPY_DIRS.map((dir) => join(root, dir)).filter((dir) => existsSync(dir));
const targets = [join(root, CRD_FILE), ...copies.map((dir) => join(dir, basename(CRD_FILE)))];
for (const target of targets) {
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, crd);
  console.log(`wrote ${target.slice(root.length + 1)}`);
}
