// Deletion that waits for the nodes, against a real API server (ADR 0017):
// the test acts as the agents, publishing on their heartbeat Leases what they
// run. A deleted VirtualIP keeps its finalizer (and its address and router
// id) while a node lists the address; a node whose agent went silent is given
// up on after --deletion-timeout with a Warning Event naming it; an object
// of another VirtualIP that cannot be written holds nothing up.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import {
  conditionOf,
  createNode,
  createService,
  createVip,
  deleteVip,
  eventsFor,
  eventually,
  readVip,
  renewAgentLease,
  runOperator,
  startOperatorEnv,
  type OperatorEnv,
  type OperatorProcess,
  type StoredVip,
} from "./harness.js";
import { kubectl } from "../../support/index.js";

const NODES = ["node-a", "node-b"] as const;
const DELETION_TIMEOUT_S = 6;
let env: OperatorEnv;
let op: OperatorProcess;
let heartbeat: NodeJS.Timeout | undefined;
/** What each agent publishes it runs; a node not in `alive` stops renewing. */
const running = new Map<string, string[]>(NODES.map((n) => [n, []]));
const alive = new Set<string>(NODES);

function beat(): Promise<void[]> {
  return Promise.all(
    [...alive].map((n) => renewAgentLease(env, n, { durationSeconds: 2, iface: "eth0", running: running.get(n) ?? [] }).catch(() => undefined)),
  );
}

/** Sets what `node` publishes and waits for it to be written. */
async function publish(node: string, addresses: string[]): Promise<void> {
  running.set(node, addresses);
  await beat();
}

async function waitForReady(name: string, reason: string, timeoutMs = 20_000): Promise<StoredVip> {
  let last: StoredVip | undefined;
  try {
    return await eventually(
      async () => {
        const v = (last = await readVip(env, name));
        return v && v.status?.observedGeneration === v.metadata.generation && conditionOf(v, "Ready")?.reason === reason ? v : undefined;
      },
      { timeoutMs, what: `VirtualIP ${name} Ready reason ${reason}` },
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}; last seen: ${JSON.stringify(last?.status)}`);
  }
}

function waitForMessage(name: string, pattern: RegExp, timeoutMs = 20_000): Promise<StoredVip> {
  return eventually(
    async () => {
      const v = await readVip(env, name);
      return v && pattern.test(conditionOf(v, "Ready")?.message ?? "") ? v : undefined;
    },
    { timeoutMs, what: `VirtualIP ${name} Ready message ${String(pattern)}` },
  );
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

before(async () => {
  env = await startOperatorEnv();
  await createNode(env, "node-a", { ip: "192.0.2.11" });
  await createNode(env, "node-b", { ip: "192.0.2.12" });
  // node-c has no agent (no Lease): nothing runs there, it is never waited for.
  await createNode(env, "node-c", { ip: "192.0.2.13" });
  await beat();
  heartbeat = setInterval(() => void beat(), 500);
  for (const name of ["web", "web2", "web3", "api", "blocked"]) await createService(env, name);
  op = await runOperator(env, { identity: "op-1", args: [`--deletion-timeout=${DELETION_TIMEOUT_S}s`] });
});

after(async () => {
  if (heartbeat) clearInterval(heartbeat);
  await op?.stop();
  await env?.cp.stop();
});

void describe("deletion waits for the nodes", () => {
  void test("the finalizer stays while a live node runs the address, past the timeout; address and router id stay held; it goes once every node confirmed", async () => {
    await createVip(env, "web", { service: "web", address: "192.0.2.50", virtualRouterId: 51 });
    await waitForReady("web", "NoMaster");
    await publish("node-a", ["192.0.2.50"]);
    await publish("node-b", ["192.0.2.50"]);
    await deleteVip(env, "web");
    const waiting = await waitForMessage("web", /node node-a still runs it; node node-b still runs it/);
    assert.equal(conditionOf(waiting, "Ready")?.reason, "Deleting");
    assert.ok(waiting.metadata.deletionTimestamp);

    // While it is being deleted, neither its address nor its router id is handed to another VirtualIP.
    await createVip(env, "web2", { service: "web2", address: "192.0.2.50", virtualRouterId: 52 });
    await createVip(env, "web3", { service: "web3", address: "192.0.2.53", virtualRouterId: 51 });
    assert.match(conditionOf(await waitForReady("web2", "Conflict"), "Ready")?.message ?? "", /default\/web2: spec\.address: 192\.0\.2\.50 is still held/);
    assert.match(
      conditionOf(await waitForReady("web3", "Conflict"), "Ready")?.message ?? "",
      /default\/web3: spec\.virtualRouterId: 51 is still held by a VirtualIP being deleted/,
    );

    // A live node that still runs the address is waited for, however long.
    await sleep((DELETION_TIMEOUT_S + 2) * 1000);
    assert.ok(await readVip(env, "web"), "still there after the timeout: both agents are live and run the address");

    await publish("node-a", []);
    await waitForMessage("web", /^Being deleted: waiting for the nodes to confirm that 192\.0\.2\.50 is gone: node node-b still runs it$/);
    assert.ok(await readVip(env, "web"));
    await publish("node-b", ["192.0.2.99"]);
    await eventually(async () => ((await readVip(env, "web")) === undefined ? true : undefined), { what: "web gone" });
    assert.ok(!(await eventsFor(env, "web")).some((e) => e.reason === "DeletionUnconfirmed"), "nobody was given up on");
    // Released: the others get their address and router id.
    await waitForReady("web2", "NoMaster");
    await waitForReady("web3", "NoMaster");
  });

  void test("a node whose agent went silent (its last Lease older than the deletion) is given up on after --deletion-timeout, with a condition and a Warning Event naming it", async () => {
    await createVip(env, "api", { service: "api", address: "192.0.2.60", virtualRouterId: 61 });
    await waitForReady("api", "NoMaster");
    // node-a took the address up but was cut off before it said so: its last Lease does not list it.
    await publish("node-a", []);
    await publish("node-b", ["192.0.2.60"]);
    alive.delete("node-a");
    const deletedAt = Date.now();
    await deleteVip(env, "api");
    await publish("node-b", []);
    await waitForMessage("api", /the agent of node node-a is not live; given up on at /);
    await eventually(async () => ((await readVip(env, "api")) === undefined ? true : undefined), { timeoutMs: 30_000, what: "api gone" });
    assert.ok(Date.now() - deletedAt >= (DELETION_TIMEOUT_S - 1) * 1000, "not before the timeout");
    const events = await eventsFor(env, "api");
    const given = events.find((e) => e.reason === "DeletionUnconfirmed");
    assert.equal(given?.type, "Warning");
    assert.match(
      given?.message ?? "",
      /^node node-a did not confirm that 192\.0\.2\.60 is gone within the deletion timeout \(6s\): the agent of node node-a is not live$/,
    );
    alive.add("node-a");
    await publish("node-a", []);
  });

  void test("a Service status that cannot be written holds up only its own VirtualIP's deletion", async () => {
    // The API server refuses every write of the status of Service "blocked" (an object of another VirtualIP).
    const policy = `
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: { name: test-block-service-status }
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
      - { apiGroups: [""], apiVersions: ["v1"], operations: ["UPDATE"], resources: ["services/status"] }
  validations:
    - expression: "object.metadata.name != 'blocked'"
      message: "test: the status of Service blocked cannot be written"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: { name: test-block-service-status }
spec:
  policyName: test-block-service-status
  validationActions: [Deny]
`;
    await kubectl(env.cp, ["apply", "-f", "-"], { input: policy });
    try {
      // The API server loads a policy within a moment: wait until it refuses.
      await eventually(
        async () => {
          const res = await kubectl(
            env.cp,
            [
              "patch",
              "service",
              "blocked",
              "--subresource=status",
              "--dry-run=server",
              "--type=merge",
              "-p",
              '{"status":{"loadBalancer":{"ingress":[{"ip":"192.0.2.99"}]}}}',
            ],
            { check: false },
          );
          return res.code !== 0 && /cannot be written/.test(res.stderr) ? true : undefined;
        },
        { what: "the policy in force" },
      );
      await createVip(env, "blocked", { service: "blocked", address: "192.0.2.70", virtualRouterId: 71 });
      await createVip(env, "free", { service: "web", address: "192.0.2.71", virtualRouterId: 72 });
      await waitForReady("free", "NoMaster");
      await eventually(
        () =>
          /blocked/.test(
            readFileSync(op.logFile, "utf8")
              .split("\n")
              .filter((l) => l.includes("Failed to reconcile"))
              .join("\n"),
          ) || undefined,
        { what: "the blocked write refused" },
      ).catch((e: unknown) => Promise.reject(new Error(`${String(e)}\n${op.log()}`)));
      await deleteVip(env, "free");
      await eventually(async () => ((await readVip(env, "free")) === undefined ? true : undefined), { what: "free gone" });
      assert.ok(await readVip(env, "blocked"), "the blocked one is still there");
    } finally {
      await kubectl(env.cp, ["delete", "validatingadmissionpolicybinding,validatingadmissionpolicy", "test-block-service-status"]);
    }
  });
});
