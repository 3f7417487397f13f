import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { CAP_SYS_NICE, effectiveCapabilities, hasCapability } from "../../../src/agent/capabilities.js";

const status = (capEff: string): string => `Name:\tnode\nCapInh:\t0000000000000000\nCapPrm:\t${capEff}\nCapEff:\t${capEff}\nCapBnd:\t${capEff}\n`;

void describe("agent capabilities", () => {
  const cases: { name: string; text: string; want: boolean | undefined }[] = [
    { name: "the agent DaemonSet's set (NET_BROADCAST, NET_ADMIN, NET_RAW, SYS_NICE)", text: status("0000000000803800"), want: true },
    { name: "without SYS_NICE", text: status("0000000000003800"), want: false },
    { name: "full root", text: status("000001ffffffffff"), want: true },
    { name: "root with SYS_NICE dropped (capsh --drop=cap_sys_nice)", text: status("000001fffe7fffff"), want: false },
    { name: "no CapEff line", text: "Name:\tnode\n", want: undefined },
    { name: "a garbled CapEff", text: "CapEff:\tzz\n", want: undefined },
  ];
  for (const c of cases) void test(`${c.name} -> ${String(c.want)}`, () => assert.equal(hasCapability(c.text, CAP_SYS_NICE), c.want));

  void test("the effective set is read, not the permitted or bounding one", () => {
    const text = "CapPrm:\t0000000000803800\nCapEff:\t0000000000003800\nCapBnd:\t0000000000803800\n";
    assert.equal(effectiveCapabilities(text), 0x3800n);
    assert.equal(hasCapability(text, CAP_SYS_NICE), false);
  });
});
