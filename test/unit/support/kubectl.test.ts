// The test support's reading of kubectl's refusals: only the API server's
// "schema not loaded yet" answer is retried (test/support/kubectl.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { isSchemaNotLoaded } from "../../support/kubectl.js";

void test("the API server's refusal while its mutating policies lack a new CRD's schema is recognised; other refusals are not", () => {
  // As kubectl 1.36 printed it in a CI run, creating a VirtualIP just after helm install.
  const refusal =
    'Error from server (ServiceUnavailable): error when creating "STDIN": Resource kind keepalived-vip.io/v1alpha1, Kind=VirtualIP not found. ' +
    "There can be a delay between when CustomResourceDefinitions are created and when they are available.\n";
  assert.equal(isSchemaNotLoaded(refusal), true);
  for (const other of [
    'Error from server (ServiceUnavailable): error when creating "STDIN": the server is currently unable to handle the request',
    'error: resource mapping not found for name: "web" namespace: "default" from "STDIN": no matches for kind "VirtualIP" in version "keepalived-vip.io/v1alpha1"',
    'The VirtualIP "web" is invalid: spec.address: Invalid value: "300.0.0.1"',
    "",
  ])
    assert.equal(isSchemaNotLoaded(other), false, other);
});
