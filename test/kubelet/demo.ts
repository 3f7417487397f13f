// `make demo DEMO_NODES=kubelet`: on the kubelet nodes, the README's install,
// the tier's whoami DaemonSet and VirtualIP, and a failover made by deleting
// the MASTER's agent pod, printed as a person would type it. Does I/O.
import type { KubeletCluster } from "../support/kubeletcluster.js";
import {
  holders,
  install,
  NAMESPACE,
  pods,
  VIP,
  virtualIPManifest,
  waitFor,
  waitForOneMaster,
  waitForOperatorAndAgents,
  whoamiManifests,
  whoAnswers,
} from "./release.js";

async function show(c: KubeletCluster, title: string, args: string[]): Promise<void> {
  console.log(`\n$ kubectl ${args.join(" ")}   # ${title}`);
  console.log((await c.kubectl(args)).stdout.trimEnd());
}

/** Installs the chart, applies the VirtualIP, waits for a MASTER, deletes its agent pod and shows the VIP moving. */
export async function showOnKubeletNodes(c: KubeletCluster): Promise<void> {
  console.log(`\nhelm install keepalived-vip charts/keepalived-vip-operator -n ${NAMESPACE}   (after creating and labelling the namespace)`);
  await install(c, { method: "helm" });
  await waitForOperatorAndAgents(c);
  await c.kubectl(["apply", "-f", "-"], { input: `${whoamiManifests()}---\n${virtualIPManifest()}` });
  const master = await waitForOneMaster(c);
  await show(c, "real pods on real kubelets", ["get", "pods", "-A", "-o", "wide"]);
  await show(c, "one MASTER", ["get", "vip", "-A", "-o", "wide"]);
  console.log(`  http://${VIP.address}/ from the client namespace answers: ${await whoAnswers(c)}`);
  const agent = (await pods(c, "agent")).find((p) => p.node === master);
  console.log(`\n$ kubectl -n ${NAMESPACE} delete pod ${agent?.name ?? "?"}   # the agent on the MASTER ${master}`);
  if (agent) await c.kubectl(["delete", "pod", "-n", NAMESPACE, agent.name, "--wait=false"]);
  const now = await waitFor("another node holding the VIP", 60_000, async () => {
    const held = await holders(c);
    return held.length === 1 && held[0] !== master ? held[0] : undefined;
  });
  await waitForOperatorAndAgents(c);
  await waitForOneMaster(c);
  await show(c, `new MASTER ${now}; the DaemonSet's new pod on ${master} is a BACKUP`, ["get", "vip", "-A", "-o", "wide"]);
}
