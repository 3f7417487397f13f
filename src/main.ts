#!/usr/bin/env node
// The one command-line entry point, `keepalived-vip <subcommand>`: dispatch
// only. Each subcommand is a module src/cli/<name>.ts exporting `run(argv)`.
import { runMain, type Subcommand } from "./cli/dispatch.js";

/** Adding a subcommand is one line here. */
const subcommands: Subcommand[] = [
  { name: "render", summary: "Render per-node keepalived.conf from YAML files, without a cluster", load: () => import("./cli/render.js") },
  {
    name: "operator",
    summary: "Run the operator: agent DaemonSet, per-node keepalived configs, Service and VirtualIP status",
    load: () => import("./cli/operator.js"),
  },
  { name: "agent", summary: "Run the node agent: keepalived, config sync, VRRP status reports", load: () => import("./cli/agent.js") },
  { name: "crd", summary: "Print the VirtualIP CustomResourceDefinition (YAML)", load: () => import("./cli/crd.js") },
];

process.exitCode = await runMain(subcommands, process.argv.slice(2));
