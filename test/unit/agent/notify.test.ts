// Tests of the notify FIFO line parser and the instance state fold.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { changedInstances, foldState, parseNotifyLine, type InstanceStates, type NotifyEvent } from "../../../src/agent/notify.js";

void describe("parseNotifyLine", () => {
  const cases: Array<[string, NotifyEvent | undefined]> = [
    ['INSTANCE "vip_4_51_eth0" MASTER 100', { kind: "state", instance: "vip_4_51_eth0", state: "MASTER", priority: 100 }],
    ['INSTANCE "vip_4_51_eth0" BACKUP 150', { kind: "state", instance: "vip_4_51_eth0", state: "BACKUP", priority: 150 }],
    ['INSTANCE "vip_4_51_eth0" FAULT 100', { kind: "state", instance: "vip_4_51_eth0", state: "FAULT", priority: 100 }],
    ['INSTANCE "vip_6_7_eth1" STOP 0', { kind: "state", instance: "vip_6_7_eth1", state: "STOPPED", priority: 0 }],
    ['INSTANCE "vip_4_51_eth0" DELETED 100', { kind: "deleted", instance: "vip_4_51_eth0" }],
    ['INSTANCE "vip_4_51_eth0" MASTER_PRIORITY 120', { kind: "priority", instance: "vip_4_51_eth0", state: "MASTER", priority: 120 }],
    ['INSTANCE "vip_4_51_eth0" BACKUP_PRIORITY 90', { kind: "priority", instance: "vip_4_51_eth0", state: "BACKUP", priority: 90 }],
    ['INSTANCE "vip_4_51_eth0" MASTER_RX_LOWER_PRI 100', { kind: "lower-priority-advert", instance: "vip_4_51_eth0", priority: 100 }],
    ['GROUP "g1" MASTER 0', { kind: "group", group: "g1", state: "MASTER" }],
    ['GROUP "g1" STOP 0', { kind: "group", group: "g1", state: "STOPPED" }],
    ['  INSTANCE "vip_4_51_eth0" MASTER 100\r', { kind: "state", instance: "vip_4_51_eth0", state: "MASTER", priority: 100 }],
    ['INSTANCE "vip" {UNKNOWN} 100', undefined],
    ['INSTANCE "vip" SLEEPING 100', undefined],
    ['GROUP "g1" MASTER_PRIORITY 0', undefined],
    ['INSTANCE "" MASTER 100', undefined],
    ['INSTANCE "vip" MASTER 300', undefined],
    ["INSTANCE vip MASTER 100", undefined],
    ['INSTANCE "vip" MASTER', undefined],
    ['VS "[192.0.2.1]:tcp:80" UP', undefined],
    ['RS "[192.0.2.2]:tcp:80" DOWN', undefined],
    ["", undefined],
    ["garbage \u0000\u00ff", undefined],
    ['INSTANCE "vip" MASTER 100 extra', undefined],
  ];
  for (const [line, want] of cases) {
    void test(`${JSON.stringify(line)} -> ${want ? want.kind : "ignored"}`, () => {
      assert.deepEqual(parseNotifyLine(line), want);
    });
  }
});

const T0 = 1_000_000;

void describe("foldState", () => {
  void test("a new instance enters its state at now", () => {
    const s = foldState({}, { kind: "state", instance: "a", state: "BACKUP", priority: 100 }, T0);
    assert.deepEqual(s, { a: { state: "BACKUP", priority: 100, since: T0 } });
  });

  void test("a state change moves since; the same state keeps it and only updates the priority", () => {
    let s: InstanceStates = { a: { state: "BACKUP", priority: 100, since: T0 } };
    s = foldState(s, { kind: "state", instance: "a", state: "MASTER", priority: 100 }, T0 + 10);
    assert.deepEqual(s.a, { state: "MASTER", priority: 100, since: T0 + 10 });
    s = foldState(s, { kind: "priority", instance: "a", state: "MASTER", priority: 120 }, T0 + 20);
    assert.deepEqual(s.a, { state: "MASTER", priority: 120, since: T0 + 10 });
    s = foldState(s, { kind: "state", instance: "a", state: "MASTER", priority: 120 }, T0 + 30);
    assert.deepEqual(s.a, { state: "MASTER", priority: 120, since: T0 + 10 });
  });

  void test("an event that changes nothing returns the same object", () => {
    const s: InstanceStates = { a: { state: "MASTER", priority: 100, since: T0 } };
    const events: NotifyEvent[] = [
      { kind: "state", instance: "a", state: "MASTER", priority: 100 },
      { kind: "lower-priority-advert", instance: "a", priority: 100 },
      { kind: "group", group: "g", state: "FAULT" },
      { kind: "deleted", instance: "zzz" },
      { kind: "configured", priorities: { a: 100 } },
      { kind: "all", state: "MASTER" },
    ];
    for (const e of events) assert.equal(foldState(s, e, T0 + 5), s, e.kind);
  });

  void test("deleted removes the instance", () => {
    const s = foldState(
      { a: { state: "BACKUP", priority: 1, since: T0 }, b: { state: "MASTER", priority: 2, since: T0 } },
      { kind: "deleted", instance: "a" },
      T0 + 1,
    );
    assert.deepEqual(Object.keys(s), ["b"]);
  });

  void test("all moves every instance to one state, keeping since of those already there", () => {
    const s = foldState(
      { a: { state: "MASTER", priority: 100, since: T0 }, b: { state: "FAULT", priority: 50, since: T0 - 5 } },
      { kind: "all", state: "FAULT" },
      T0 + 100,
    );
    assert.deepEqual(s, { a: { state: "FAULT", priority: 100, since: T0 + 100 }, b: { state: "FAULT", priority: 50, since: T0 - 5 } });
  });

  void test("configured drops unknown instances and sets configured priorities without a transition", () => {
    const s = foldState(
      { a: { state: "MASTER", priority: 100, since: T0 }, gone: { state: "BACKUP", priority: 100, since: T0 } },
      { kind: "configured", priorities: { a: 150, fresh: 100 } },
      T0 + 100,
    );
    assert.deepEqual(s, { a: { state: "MASTER", priority: 150, since: T0 } });
  });
});

void describe("changedInstances", () => {
  void test("lists new instances and state changes, not priority changes", () => {
    const before: InstanceStates = { a: { state: "BACKUP", priority: 100, since: 1 }, b: { state: "BACKUP", priority: 100, since: 1 } };
    const after: InstanceStates = {
      a: { state: "MASTER", priority: 100, since: 2 },
      b: { state: "BACKUP", priority: 120, since: 1 },
      c: { state: "BACKUP", priority: 100, since: 2 },
    };
    assert.deepEqual(changedInstances(before, after), [
      { instance: "a", from: "BACKUP", to: "MASTER" },
      { instance: "c", from: undefined, to: "BACKUP" },
    ]);
  });
});
