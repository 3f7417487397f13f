// `keepalived-vip render`: the offline renderer. Reads YAML files of
// Kubernetes objects, plans them as the operator would, and prints (or
// writes) the keepalived.conf each node's agent would assemble from the
// published plan. I/O: reads the input files and stdin, writes stdout,
// stderr and --out.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_MIN_ADVERT_INTERVAL_MS, DEFAULT_RUNTIME_DIR, INTERFACE_NAME_PATTERN } from "../api/index.js";
import { parseDuration } from "../shared/duration.js";
import { planCluster, renderNodeConfigs, resolveOptions, type ClusterPlan, type RenderOptions, type RenderedNodeConfig } from "../render/index.js";
import { InputError, PROGRAM, UsageError, parseCommandArgs } from "./command.js";
import { parseClusterView, type InputFile } from "./render-input.js";

const HELP = `Usage: ${PROGRAM} render --node NAME [options] FILE...
       ${PROGRAM} render --all --out DIR [options] FILE...

Renders the keepalived.conf a node's agent would assemble from what the
operator publishes, from YAML files of Kubernetes objects, without a
cluster. FILE is a multi-document YAML file, or - for stdin. VirtualIP,
VirtualIPPool, Namespace, ServiceCIDR, Node, Service, EndpointSlice and
Secret objects are read (also inside a List); an agent heartbeat Lease gives
its node's default interface; other kinds are ignored with a warning.
Without a VirtualIPPool that admits its namespace, no VirtualIP is rendered.

Problems the operator would report on a VirtualIP (an address no pool
allows, a reserved address, a missing Service, a conflict, no eligible
node, ...) are printed as warnings on stderr; the VirtualIPs concerned are
left out of the config, as the operator would.

Options:
  --node NAME               print the keepalived.conf of node NAME on stdout
                            (with --out: write DIR/NAME.conf instead)
  --all                     render every node; needs --out
  --out DIR                 write one <node>.conf per node into DIR (created
                            if missing) and print the file names
  --default-interface IF    interface for a VirtualIP without spec.interface
                            when neither the node's agent Lease nor the Node
                            annotation keepalived-vip.io/default-interface
                            names one (default eth0)
  --runtime-dir DIR         the agent's runtime directory on the node, where
                            keepalived finds its notify FIFO
                            (default ${DEFAULT_RUNTIME_DIR})
  --min-advert-interval D   smallest spec.vrrp.advertisementInterval accepted;
                            a VirtualIP below it is left out with a warning
                            (AdvertIntervalTooShort), as the operator with
                            the same flag would (default ${DEFAULT_MIN_ADVERT_INTERVAL_MS}ms)
  -h, --help                show this help

Exit status: 0 rendered (warnings may have been printed), 1 bad input,
2 usage error. Nothing is written to stdout unless rendering succeeded.

Example:
  ${PROGRAM} render --node node-a config/samples/*.yaml config/samples/cluster/*.yaml
`;

const OPTIONS = {
  node: { type: "string" },
  all: { type: "boolean" },
  out: { type: "string" },
  "default-interface": { type: "string" },
  "runtime-dir": { type: "string" },
  "min-advert-interval": { type: "string" },
} as const;

/** What the command line asks for, checked. */
interface RenderRequest {
  files: string[];
  /** One node, or every node when undefined. */
  node?: string;
  out?: string;
  options: RenderOptions;
}

function parseRequest(argv: string[]): RenderRequest | "help" {
  const { values, positionals } = parseCommandArgs(argv, OPTIONS, true);
  if (values.help) return "help";
  if (positionals.length === 0) throw new UsageError("no input files (give YAML files, or - for stdin)");
  if (values.node !== undefined && values.all) throw new UsageError("--node and --all exclude each other");
  if (values.node === undefined && !values.all) throw new UsageError("say which node: --node NAME, or --all --out DIR");
  if (values.all && values.out === undefined) throw new UsageError("--all needs --out DIR");
  if (values.node === "") throw new UsageError("--node needs a node name");
  if (values.out === "") throw new UsageError("--out needs a directory");
  const defaultInterface = values["default-interface"] ?? "eth0";
  if (!new RegExp(INTERFACE_NAME_PATTERN).test(defaultInterface)) {
    throw new UsageError(`--default-interface ${JSON.stringify(defaultInterface)} is not a plain interface name`);
  }
  const floorText = values["min-advert-interval"];
  const minAdvertIntervalMs = floorText === undefined ? DEFAULT_MIN_ADVERT_INTERVAL_MS : parseDuration(floorText);
  if (minAdvertIntervalMs === undefined || minAdvertIntervalMs < 10 || minAdvertIntervalMs > 255_000) {
    throw new UsageError(`--min-advert-interval ${JSON.stringify(floorText)} is not a duration from 10ms to 255s, like 100ms or 1s`);
  }
  const options: RenderOptions = { defaultInterface, runtimeDir: values["runtime-dir"] ?? DEFAULT_RUNTIME_DIR, minAdvertIntervalMs };
  try {
    resolveOptions(options);
  } catch {
    throw new UsageError(`--runtime-dir ${JSON.stringify(options.runtimeDir)} must be an absolute path of letters, digits and _ . / -`);
  }
  return { files: positionals, node: values.node, out: values.out, options };
}

/** Reads the input files; `-` is stdin (once). */
function readInputFiles(paths: string[]): InputFile[] {
  if (paths.filter((p) => p === "-").length > 1) throw new UsageError("stdin (-) can be read only once");
  const errors: string[] = [];
  const files = paths.flatMap((name) => {
    try {
      return [{ name, text: readFileSync(name === "-" ? 0 : name, "utf8") }];
    } catch (e) {
      const code = (e as { code?: string }).code;
      const reason = code === "ENOENT" ? "no such file" : code === "EISDIR" ? "is a directory" : code === "EACCES" ? "permission denied" : String(code ?? e);
      errors.push(`${name}: cannot read: ${reason}`);
      return [];
    }
  });
  if (errors.length > 0) throw new InputError(errors);
  return files;
}

/** The plan's nodes to output: the one asked for (which must exist), or all. */
function selectNodes(plan: ClusterPlan, node: string | undefined): ClusterPlan["nodes"] {
  if (node === undefined) return plan.nodes;
  const found = plan.nodes.find((n) => n.node === node);
  if (found) return [found];
  const known = plan.nodes.map((n) => n.node);
  throw new InputError([`node ${JSON.stringify(node)} is not in the input (nodes: ${known.length > 0 ? known.join(", ") : "none"})`]);
}

function writeConfigs(dir: string, nodes: RenderedNodeConfig[]): string[] {
  try {
    mkdirSync(dir, { recursive: true });
    // The config may carry a VRRP password: readable by the owner only.
    return nodes.map((n) => {
      const path = join(dir, `${n.node}.conf`);
      writeFileSync(path, n.config, { mode: 0o600 });
      return path;
    });
  } catch (e) {
    throw new InputError([`cannot write to ${dir}: ${(e as { code?: string }).code ?? String(e)}`]);
  }
}

/** Runs `render`. */
export function run(argv: string[]): Promise<number> {
  const request = parseRequest(argv);
  if (request === "help") {
    process.stdout.write(HELP);
    return Promise.resolve(0);
  }
  const { view, warnings } = parseClusterView(readInputFiles(request.files));
  // Claims of unusable VirtualIPs run out as they would in the operator.
  const plan = planCluster({ ...view, now: view.now ?? Date.now() }, request.options);
  // Only the nodes asked for are assembled, as their agents would.
  const nodes = renderNodeConfigs({ nodes: selectNodes(plan, request.node), published: plan.published });
  const problems = plan.problems.map((p) => p.message);
  process.stderr.write([...warnings, ...problems].map((w) => `warning: ${w}\n`).join(""));
  if (request.out === undefined) {
    process.stdout.write(nodes[0]?.config ?? "");
  } else {
    process.stdout.write(
      writeConfigs(request.out, nodes)
        .map((p) => `${p}\n`)
        .join(""),
    );
  }
  return Promise.resolve(0);
}
