// Pool address and router id entries: what parses, to which numbers, and the
// sentence that says what is wrong with the rest. Pure.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { bigIntToIP, ipToBigInt, parseAddressRange, parseRouterIdRange, rangeSize, rangesOverlap } from "../../../src/api/index.js";

const range = (text: string) => {
  const r = parseAddressRange(text);
  assert.ok(r.ok, r.ok ? "" : r.error);
  return r.value;
};

void describe("parseAddressRange", () => {
  const good: { text: string; family: 4 | 6; first: string; last: string; size: bigint }[] = [
    { text: "192.0.2.64/27", family: 4, first: "192.0.2.64", last: "192.0.2.95", size: 32n },
    { text: "192.0.2.100-192.0.2.110", family: 4, first: "192.0.2.100", last: "192.0.2.110", size: 11n },
    { text: "192.0.2.7", family: 4, first: "192.0.2.7", last: "192.0.2.7", size: 1n },
    { text: "192.0.2.7/32", family: 4, first: "192.0.2.7", last: "192.0.2.7", size: 1n },
    { text: "0.0.0.0/0", family: 4, first: "0.0.0.0", last: "255.255.255.255", size: 1n << 32n },
    { text: "2001:db8::100/120", family: 6, first: "2001:db8::100", last: "2001:db8::1ff", size: 256n },
    { text: "2001:db8::50-2001:db8::99", family: 6, first: "2001:db8::50", last: "2001:db8::99", size: 0x4an },
    { text: "::/0", family: 6, first: "::", last: "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", size: 1n << 128n },
  ];
  for (const c of good) {
    void test(`${c.text} is IPv${c.family} ${c.first}..${c.last}`, () => {
      const r = range(c.text);
      assert.deepEqual(
        [r.family, bigIntToIP(r.family, r.first), bigIntToIP(r.family, r.last), rangeSize(r), r.text],
        [c.family, c.first, c.last, c.size, c.text],
      );
    });
  }

  const bad: { text: string; error: RegExp }[] = [
    { text: "192.0.2.65/27", error: /has host bits set \(the network is 192\.0\.2\.64\/27\)/ },
    { text: "192.0.2.0/33", error: /prefix length 33 is over 32/ },
    { text: "2001:db8::/129", error: /prefix length 129 is over 128/ },
    { text: "192.0.2.0/x", error: /is not a CIDR/ },
    { text: "lan/24", error: /is not a CIDR/ },
    { text: "192.0.2.10-192.0.2.1", error: /ends before it starts/ },
    { text: "192.0.2.1-2001:db8::1", error: /mixes IPv4 and IPv6/ },
    { text: "192.0.2.1-192.0.2.2-192.0.2.3", error: /is not a range of two addresses/ },
    { text: "192.0.2.1-", error: /is not a range of two addresses/ },
    { text: "192.0.2.256", error: /is not an address, a CIDR or a range/ },
    { text: "", error: /is not an address, a CIDR or a range/ },
  ];
  for (const c of bad) {
    void test(`${JSON.stringify(c.text)} is refused, quoting the entry`, () => {
      const r = parseAddressRange(c.text);
      assert.equal(r.ok, false);
      assert.match(r.ok ? "" : r.error, c.error);
      assert.ok(!r.ok && r.error.includes(JSON.stringify(c.text)), r.ok ? "" : r.error);
    });
  }
});

void describe("parseRouterIdRange", () => {
  const cases: { text: string; want?: [number, number]; error?: RegExp }[] = [
    { text: "7", want: [7, 7] },
    { text: "50-99", want: [50, 99] },
    { text: "1-255", want: [1, 255] },
    { text: "0", error: /router ids are 1\.\.255/ },
    { text: "1-256", error: /router ids are 1\.\.255/ },
    { text: "99-50", error: /ends before it starts/ },
    { text: "5-", error: /is not a router id or a range/ },
    { text: "a", error: /is not a router id or a range/ },
    { text: "1000", error: /is not a router id or a range/ },
  ];
  for (const c of cases) {
    void test(`${c.text}: ${c.want ? c.want.join("..") : "refused"}`, () => {
      const r = parseRouterIdRange(c.text);
      if (c.want) assert.deepEqual(r, { ok: true, value: { first: c.want[0], last: c.want[1] } });
      else assert.match(r.ok ? "" : r.error, c.error ?? /./);
      assert.equal(r.ok, c.want !== undefined);
    });
  }
});

void describe("address numbers and overlap", () => {
  void test("addresses round-trip through numbers in canonical form", () => {
    for (const ip of ["0.0.0.0", "192.0.2.1", "255.255.255.255", "::", "::1", "2001:db8::50", "fe80::1:2", "::ffff:c000:232"]) {
      const n = ipToBigInt(ip);
      assert.ok(n, ip);
      assert.equal(bigIntToIP(n.family, n.value), ip);
    }
    assert.equal(ipToBigInt("my-vip"), undefined);
  });

  const overlaps: { a: string; b: string; want: boolean }[] = [
    { a: "192.0.2.64/27", b: "192.0.2.95", want: true },
    { a: "192.0.2.64/27", b: "192.0.2.96-192.0.2.100", want: false },
    { a: "192.0.2.64/27", b: "192.0.2.0/24", want: true },
    { a: "0.0.0.0/0", b: "::/0", want: false },
    { a: "2001:db8::/120", b: "2001:db8::ff-2001:db8::1ff", want: true },
  ];
  for (const c of overlaps) {
    void test(`${c.a} and ${c.b} ${c.want ? "overlap" : "do not overlap"}`, () => {
      assert.equal(rangesOverlap(range(c.a), range(c.b)), c.want);
      assert.equal(rangesOverlap(range(c.b), range(c.a)), c.want);
    });
  }
});
