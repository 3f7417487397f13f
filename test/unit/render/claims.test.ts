// First claim wins, through planCluster (the production path): a conflict
// goes to the VirtualIP that held the address first, not to the oldest
// object; a stale claim ranks after a current one; an unusable VirtualIP
// holds its claim only for the grace period and blocks no one without one;
// messages never reveal an object of another namespace.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { VirtualIP } from "../../../src/api/index.js";
import { planCluster, type ClusterPlan, type ClusterView, type Problem } from "../../../src/render/index.js";
import { claimed, service, view, vip, type VipInput } from "./factory.js";

const oldest = "2023-01-01T00:00:00Z";
const older = "2024-01-01T00:00:00Z";
const newer = "2024-06-01T00:00:00Z";
const T0 = Date.parse("2024-07-01T00:00:00Z");
const iso = (ms: number): string => new Date(ms).toISOString();
const MINUTE = 60_000;

/** A VirtualIP at `generation` (the API server counts spec edits). */
function at(generation: number, input: VipInput): VirtualIP {
  const v = vip(input);
  return { ...v, metadata: { ...v.metadata, generation } };
}

function plan(vips: VirtualIP[], extra: Partial<ClusterView> = {}): ClusterPlan {
  return planCluster(view(vips, { services: [service("web"), service("web", undefined, "tenant-b")], ...extra }));
}

function problemsOf(p: ClusterPlan, key: string): Problem[] {
  return p.problems.filter((x) => x.virtualIP === key);
}

function rendered(p: ClusterPlan): string[] {
  return Object.values(p.virtualIPs)
    .filter((v) => v.instance !== undefined)
    .map((v) => v.key)
    .sort();
}

void describe("first claim wins over creationTimestamp", () => {
  void test("control: without claims the older object wins", () => {
    const holder = at(1, { name: "holder", created: newer });
    const editor = at(3, { name: "editor", created: older });
    assert.deepEqual(rendered(plan([holder, editor])), ["default/editor"]);
  });

  void test("an old VirtualIP edited onto a live address gets Conflict; the holder keeps it", () => {
    const holder = claimed(at(1, { name: "holder", created: newer }), { time: iso(T0) });
    const editor = at(3, { name: "editor", created: older });
    const p = plan([holder, editor]);
    assert.deepEqual(rendered(p), ["default/holder"]);
    assert.deepEqual(problemsOf(p, "default/holder"), []);
    assert.deepEqual(
      problemsOf(p, "default/editor").map((x) => [x.condition, x.reason, x.other]),
      [
        ["Ready", "Conflict", "default/holder"],
        ["Conflict", "DuplicateAddress", "default/holder"],
      ],
    );
    assert.match(
      problemsOf(p, "default/editor")[0]?.message ?? "",
      /^VirtualIP default\/editor: spec\.address: 192\.0\.2\.50 is already used by VirtualIP default\/holder \(which claimed it first\)$/,
    );
    assert.deepEqual([p.virtualIPs["default/holder"]?.claimed, p.virtualIPs["default/editor"]?.claimed], [true, false]);
  });

  void test("the editor's claim on its previous address does not count for the new one", () => {
    const holder = claimed(at(1, { name: "holder", created: newer }), { time: iso(T0) });
    const editor = claimed(at(3, { name: "editor", created: older }), { time: iso(T0 - 60 * MINUTE), address: "192.0.2.60", generation: 2 });
    const p = plan([holder, editor]);
    assert.deepEqual(rendered(p), ["default/holder"]);
    assert.equal(p.virtualIPs["default/editor"]?.claimVoid, true, "a claim on an address the VirtualIP no longer wants is dropped");
  });

  void test("an allocated address is not moved by an old VirtualIP naming it explicitly", () => {
    const holder = claimed(
      {
        ...vip({ name: "holder", created: newer, spec: { address: undefined, virtualRouterId: undefined } }),
        status: { address: "192.0.2.20", virtualRouterId: 20, pool: "test" },
      },
      { time: iso(T0) },
    );
    const editor = at(3, { name: "editor", created: older, spec: { address: "192.0.2.20", virtualRouterId: 20 } });
    const p = plan([holder, editor]);
    assert.deepEqual(rendered(p), ["default/holder"]);
    assert.deepEqual([p.virtualIPs["default/holder"]?.address, p.virtualIPs["default/holder"]?.virtualRouterId], ["192.0.2.20", 20]);
    assert.equal(problemsOf(p, "default/editor").find((x) => x.condition === "Conflict")?.reason, "DuplicateAddress");
  });

  void test("an allocation never claimed (never usable) gives way to an explicit address and is allocated anew", () => {
    const kept = {
      ...vip({ name: "kept", created: newer, spec: { address: undefined, virtualRouterId: undefined } }),
      status: { address: "192.0.2.20", virtualRouterId: 20, pool: "test" },
    };
    const explicit = vip({ name: "explicit", created: older, spec: { address: "192.0.2.20", virtualRouterId: 20 } });
    const p = plan([kept, explicit]);
    assert.deepEqual(rendered(p), ["default/explicit", "default/kept"]);
    assert.notEqual(p.virtualIPs["default/kept"]?.address, "192.0.2.20");
  });

  void test("between two claims the earlier one wins", () => {
    const first = claimed(at(1, { name: "first", created: newer }), { time: iso(T0) });
    const second = claimed(at(1, { name: "second", created: older }), { time: iso(T0 + MINUTE) });
    assert.deepEqual(rendered(plan([first, second])), ["default/first"]);
  });

  void test("a router id clash is decided by claims too", () => {
    const holder = claimed(at(1, { name: "holder", created: newer }), { time: iso(T0) });
    const editor = at(2, { name: "editor", created: older, spec: { address: "192.0.2.51", vrrp: { preempt: true } } });
    const p = plan([holder, editor]);
    assert.deepEqual(rendered(p), ["default/holder"]);
    assert.equal(problemsOf(p, "default/editor").find((x) => x.condition === "Conflict")?.reason, "RouterIdClash");
  });
});

void describe("claim ranks", () => {
  const cases: { name: string; a: VirtualIP; b: VirtualIP; winner: string }[] = [
    {
      name: "a stale claim (generation changed since) ranks after a current one, even an older claim",
      a: claimed(at(2, { name: "a", created: oldest }), { time: iso(T0 - 60 * MINUTE), generation: 1 }),
      b: claimed(at(1, { name: "b", created: newer }), { time: iso(T0) }),
      winner: "default/b",
    },
    {
      name: "a stale claim ranks before no claim, even of an older object",
      a: claimed(at(2, { name: "a", created: newer }), { time: iso(T0), generation: 1 }),
      b: at(1, { name: "b", created: oldest }),
      winner: "default/a",
    },
    {
      name: "a claim on another router id is no claim on this pair",
      a: claimed(at(1, { name: "a", created: newer }), { time: iso(T0), virtualRouterId: 52 }),
      b: at(1, { name: "b", created: older }),
      winner: "default/b",
    },
  ];
  for (const c of cases) {
    void test(c.name, () => {
      const p = plan([c.a, c.b]);
      assert.deepEqual(rendered(p), [c.winner]);
    });
  }
});

void describe("unusable VirtualIPs and the grace period", () => {
  const gone = (v: VirtualIP): VirtualIP => ({ ...v, spec: { ...v.spec, serviceRef: { name: "gone" } } });
  /** holder: unusable (Service gone) since T0, with a claim; rival: usable, newer, same address. */
  function scene(opts: { claim: boolean; reason?: string; now?: number; claimGraceMs?: number }): ClusterPlan {
    const base = gone(at(1, { name: "holder", created: older }));
    const ready = { status: "False" as const, reason: opts.reason ?? "ServiceNotFound", since: iso(T0) };
    const holder = opts.claim ? claimed(base, { time: iso(T0 - 60 * MINUTE) }, ready) : base;
    const rival = at(1, { name: "rival", created: newer });
    return planCluster(
      view([holder, rival], { ...(opts.now !== undefined ? { now: opts.now } : {}) }),
      opts.claimGraceMs !== undefined ? { claimGraceMs: opts.claimGraceMs } : {},
    );
  }

  const cases: { name: string; opts: Parameters<typeof scene>[0]; rendered: string[]; claimVoid: boolean }[] = [
    { name: "without a claim it blocks no one (no squatting)", opts: { claim: false, now: T0 + MINUTE }, rendered: ["default/rival"], claimVoid: false },
    { name: "with a claim it keeps the address within the grace period", opts: { claim: true, now: T0 + 4 * MINUTE }, rendered: [], claimVoid: false },
    {
      name: "after the grace period its claim is void and the rival takes the address",
      opts: { claim: true, now: T0 + 6 * MINUTE },
      rendered: ["default/rival"],
      claimVoid: true,
    },
    {
      name: "a shorter grace period (claimGraceMs) ends the claim sooner",
      opts: { claim: true, now: T0 + 2 * MINUTE, claimGraceMs: MINUTE },
      rendered: ["default/rival"],
      claimVoid: true,
    },
    { name: "without a time in the view a claim never runs out", opts: { claim: true }, rendered: [], claimVoid: false },
    {
      name: "a Ready reason under which it is still rendered (NoMaster) never ends a claim",
      opts: { claim: true, reason: "NoMaster", now: T0 + 60 * MINUTE },
      rendered: [],
      claimVoid: false,
    },
  ];
  for (const c of cases) {
    void test(c.name, () => {
      const p = scene(c.opts);
      assert.deepEqual(rendered(p), c.rendered);
      assert.equal(p.virtualIPs["default/holder"]?.claimVoid, c.claimVoid);
      assert.equal(p.virtualIPs["default/holder"]?.claimed, false);
      assert.ok(problemsOf(p, "default/holder").some((x) => x.reason === "ServiceNotFound"));
      if (c.rendered.length === 0) assert.equal(problemsOf(p, "default/rival").find((x) => x.condition === "Conflict")?.reason, "DuplicateAddress");
    });
  }

  void test("a VirtualIP refused by the pools keeps its claim for the grace period, then loses it", () => {
    const ready = { status: "False" as const, reason: "NoPool", since: iso(T0) };
    const holder = claimed(at(1, { name: "holder" }), { time: iso(T0 - 60 * MINUTE) }, ready);
    const within = planCluster(view([holder], { pools: [], now: T0 + MINUTE }));
    assert.deepEqual([within.virtualIPs["default/holder"]?.claimVoid, within.virtualIPs["default/holder"]?.claimed], [false, false]);
    const after = planCluster(view([holder], { pools: [], now: T0 + 6 * MINUTE }));
    assert.equal(after.virtualIPs["default/holder"]?.claimVoid, true);
  });

  void test("a claim is kept (claimed) while the VirtualIP is rendered, and the plan carries what it claims", () => {
    const holder = claimed(at(1, { name: "holder" }), { time: iso(T0) });
    const p = plan([holder]);
    assert.deepEqual(
      [
        p.virtualIPs["default/holder"]?.claimed,
        p.virtualIPs["default/holder"]?.claimVoid,
        p.virtualIPs["default/holder"]?.address,
        p.virtualIPs["default/holder"]?.virtualRouterId,
      ],
      [true, false, "192.0.2.50", 51],
    );
  });
});

void describe("conflicts across namespaces reveal nothing of the other namespace", () => {
  const cases: { name: string; editor: VipInput["spec"]; reason: string; field: RegExp }[] = [
    {
      name: "the same address",
      editor: { address: "192.0.2.50", virtualRouterId: 99 },
      reason: "DuplicateAddress",
      field: /^VirtualIP tenant-b\/editor: spec\.address: 192\.0\.2\.50 is already used by a VirtualIP of another namespace$/,
    },
    {
      name: "the same router id on the same interface",
      editor: { address: "192.0.2.51" },
      reason: "RouterIdClash",
      field:
        /^VirtualIP tenant-b\/editor: spec\.virtualRouterId: 51 \(IPv4\) is already used by a VirtualIP of another namespace on interface eth0 of node node-a$/,
    },
  ];
  for (const c of cases) {
    void test(`${c.name}: Conflict on the editor, naming neither the holder nor its fields`, () => {
      const holder = claimed(at(1, { name: "holder", namespace: "default", created: newer, spec: { vrrp: { priorities: { "node-a": 150 } } } }), {
        time: iso(T0),
      });
      const editor = at(1, { name: "editor", namespace: "tenant-b", created: older, spec: c.editor });
      const p = plan([holder, editor]);
      assert.deepEqual(rendered(p), ["default/holder"]);
      const problems = problemsOf(p, "tenant-b/editor");
      assert.deepEqual(
        problems.map((x) => [x.condition, x.reason]),
        [
          ["Ready", "Conflict"],
          ["Conflict", c.reason],
        ],
      );
      for (const x of problems) {
        assert.match(x.message, c.field);
        assert.equal(x.other, undefined, "the other object is named in `other`");
        for (const leak of ["holder", "default/", "priorities", "metadata.namespace", "150"])
          assert.ok(!x.message.includes(leak), `message reveals ${leak}: ${x.message}`);
      }
      assert.deepEqual(problemsOf(p, "default/holder"), []);
    });
  }

  void test("control: in the same namespace the message names the holder and the differing fields", () => {
    const holder = claimed(at(1, { name: "holder", created: newer, spec: { vrrp: { priorities: { "node-a": 150 } } } }), { time: iso(T0) });
    const editor = at(1, { name: "editor", created: older, spec: { address: "192.0.2.51" } });
    const conflict = problemsOf(plan([holder, editor]), "default/editor").find((x) => x.condition === "Conflict");
    assert.equal(conflict?.other, "default/holder");
    assert.match(
      conflict?.message ?? "",
      /VirtualIP default\/holder \(which claimed it first\) on interface eth0 of node node-a with different settings \(spec\.vrrp\.priorities\)$/,
    );
  });

  void test("VirtualIPs of two namespaces with identical settings never share an instance", () => {
    const a = at(1, { name: "a", namespace: "default", created: older });
    const b = at(1, { name: "b", namespace: "tenant-b", created: newer, spec: { address: "192.0.2.51" } });
    const p = plan([a, b]);
    assert.deepEqual(
      p.instances.map((i) => i.virtualIPs),
      [["default/a"]],
    );
    assert.equal(problemsOf(p, "tenant-b/b").find((x) => x.condition === "Conflict")?.reason, "RouterIdClash");
  });
});
