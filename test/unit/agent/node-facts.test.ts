// The node facts on the heartbeat Lease: the default interface, the node's
// addresses, interface names and IPVS, read again every few beats; a change
// after the first reading is announced once (refused instances are retested).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ANNOTATION_DEFAULT_INTERFACE, ANNOTATION_HOST_ADDRESSES, ANNOTATION_INTERFACES, ANNOTATION_RUNNING_ADDRESSES } from "../../../src/api/index.js";
import type { LinkAddresses } from "../../../src/agent/ip.js";
import { NodeFacts, type LinkFacts } from "../../../src/agent/node-facts.js";
import { createLogger } from "../../../src/shared/logger.js";

const logger = createLogger("test", "error");
logger.silent = true;

const eth0: LinkAddresses = { name: "eth0", addresses: [{ address: "192.0.2.11", prefixLength: 24, family: 4 }] };
const eth1: LinkAddresses = { name: "eth1", addresses: [] };

void describe("NodeFacts", () => {
  void test("publishes the host interface; a new interface is seen on the tenth beat and announced once", async () => {
    let links = [eth0];
    let reads = 0;
    const changes: LinkFacts[] = [];
    const facts = new NodeFacts({
      links: { readInterfaces: () => (reads++, Promise.resolve(links)), ipvsAvailable: () => Promise.resolve(false) },
      logger,
      hostIP: "192.0.2.11",
      onChanged: (next) => changes.push(next),
    });
    await facts.discover();
    const first = await facts.leaseAnnotations();
    assert.equal(first[ANNOTATION_DEFAULT_INTERFACE], "eth0");
    assert.equal(first[ANNOTATION_HOST_ADDRESSES], "192.0.2.11");
    assert.equal(first[ANNOTATION_INTERFACES], "eth0");
    assert.ok(!(ANNOTATION_RUNNING_ADDRESSES in first), "running addresses published before the installed config was known");
    assert.deepEqual(changes, [], "the first reading is not a change");

    links = [eth0, eth1];
    for (let beat = 2; beat <= 9; beat++) await facts.leaseAnnotations();
    assert.equal(reads, 1, "interfaces read between the rediscovery beats");
    const tenth = await facts.leaseAnnotations();
    assert.equal(reads, 2);
    assert.equal(tenth[ANNOTATION_INTERFACES], "eth0,eth1");
    assert.deepEqual(changes, [{ interfaces: ["eth0", "eth1"], ipvs: false }]);
    facts.runningIsKnown();
    assert.ok(ANNOTATION_RUNNING_ADDRESSES in (await facts.leaseAnnotations()));
  });

  void test("while no interface carries the host IP, every beat looks again", async () => {
    let reads = 0;
    const facts = new NodeFacts({
      links: { readInterfaces: () => (reads++, Promise.resolve([eth1])), ipvsAvailable: () => Promise.resolve(true) },
      logger,
      hostIP: "192.0.2.11",
      onChanged: () => undefined,
    });
    for (let i = 0; i < 3; i++) assert.ok(!(ANNOTATION_DEFAULT_INTERFACE in (await facts.leaseAnnotations())));
    assert.equal(reads, 3);
  });
});
