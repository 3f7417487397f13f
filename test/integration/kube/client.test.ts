// The API clients against a real API server: requests in a row share one
// kept-open TLS connection (client-node would otherwise open one per request),
// and a connection the API server closed is replaced without a failed request.
// Whether a request reused a connection is Node's `ClientRequest.reusedSocket`.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { IncomingMessage } from "node:http";
import { createKubeClients, type KubeClients } from "../../../src/kube/client.js";
import { startControlPlane, type ControlPlane } from "../../support/index.js";

const NS = "clients";

let cp: ControlPlane;
let clients: KubeClients;

before(async () => {
  cp = await startControlPlane();
  await cp.ensureNamespace(NS);
  clients = createKubeClients({ kubeconfig: cp.kubeconfigPath });
  await clients.core.createNamespacedConfigMap(NS, { metadata: { name: "probe" } });
});

after(async () => {
  await cp?.stop();
});

/** Whether a response came on a connection an earlier request had opened (Node's `request.reusedSocket`). */
function reused(res: { response: IncomingMessage }): boolean {
  const req = (res.response as IncomingMessage & { req?: { reusedSocket?: unknown } }).req;
  assert.equal(typeof req?.reusedSocket, "boolean", "the response carries no request");
  return req?.reusedSocket === true;
}

/** One read through each of the clients, in a row: whether each went over a connection already open. */
async function readThroughEach(c: KubeClients): Promise<boolean[]> {
  return [
    reused(await c.core.readNamespace(NS)),
    reused(await c.apps.listNamespacedDeployment(NS)),
    reused(await c.coordination.listNamespacedLease(NS)),
    reused(await c.discovery.listNamespacedEndpointSlice(NS)),
    reused(await c.custom.listClusterCustomObject("apiextensions.k8s.io", "v1", "customresourcedefinitions")),
    reused(await c.objects.read({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "probe", namespace: NS } })),
  ];
}

void describe("the API clients", () => {
  void test("requests in a row, through every client, go over the connection the first one opened", async () => {
    const fresh = createKubeClients({ kubeconfig: cp.kubeconfigPath });
    const reuses = [...(await readThroughEach(fresh)), ...(await readThroughEach(fresh))];
    assert.deepEqual(reuses, [false, ...Array.from({ length: 11 }, () => true)]);
  });

  void test("writes in a row go over one connection too", async () => {
    await clients.core.readNamespace(NS);
    const reuses: boolean[] = [];
    for (let i = 0; i < 5; i++) {
      const name = `cm-${i}`;
      reuses.push(reused(await clients.core.createNamespacedConfigMap(NS, { metadata: { name }, data: { i: String(i) } })));
      reuses.push(reused(await clients.core.deleteNamespacedConfigMap(name, NS)));
    }
    assert.ok(reuses.every(Boolean), `reused: ${reuses.join(" ")}`);
  });

  void test("after the API server restarts, the next request succeeds on a new connection", async () => {
    await clients.core.readNamespace(NS);
    assert.ok(reused(await clients.core.readNamespace(NS)), "the connection was not kept open");
    await cp.stopApiServer();
    await cp.startApiServer();
    const res = await clients.core.readNamespace(NS);
    assert.equal(res.body.metadata?.name, NS);
    assert.equal(reused(res), false, "the request went over the connection the API server closed");
    assert.ok(reused(await clients.core.readNamespace(NS)), "the new connection was not kept open");
  });
});
