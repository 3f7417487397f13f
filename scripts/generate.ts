// `make generate`: writes the CRDs generated from the zod schemas (VirtualIP,
// VirtualIPPool) to crds/ (and to the Helm chart's crds/ folder and
// kustomize's config/crd/bases/ when they exist).
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { CRD_COPY_DIRS, CRD_FILE, POOL_CRD_FILE, renderPoolCrd, renderVirtualIPCrd } from "../src/crd/index.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

for (const [file, text] of [
  [CRD_FILE, renderVirtualIPCrd()],
  [POOL_CRD_FILE, renderPoolCrd()],
] as const) {
  const copies = CRD_COPY_DIRS.map((dir) => join(root, dir)).filter((dir) => existsSync(dir));
  const targets = [join(root, file), ...copies.map((dir) => join(dir, basename(file)))];
  for (const target of targets) {
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, text);
    console.log(`wrote ${target.slice(root.length + 1)}`);
  }
}
