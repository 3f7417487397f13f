// `keepalived-vip crd`: prints the VirtualIP CustomResourceDefinition that
// the zod schema generates (the same bytes as crds/). Writes only stdout.
import { renderVirtualIPCrd } from "../crd/index.js";
import { PROGRAM, parseCommandArgs } from "./command.js";

const HELP = `Usage: ${PROGRAM} crd

Prints the VirtualIP CustomResourceDefinition (keepalived-vip.io/v1alpha1) as
YAML, generated from the API schema built into this binary. Apply it with:

  ${PROGRAM} crd | kubectl apply --server-side -f -

Options:
  -h, --help   show this help
`;

/** Runs `crd`. */
export function run(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, {});
  process.stdout.write(values.help ? HELP : renderVirtualIPCrd());
  return Promise.resolve(0);
}
