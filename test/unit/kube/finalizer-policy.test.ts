// The finalizer gate's reading of the API server's refusal while a mutating
// policy lacks a new CRD's schema (src/kube/finalizer-policy.ts, ADR 0024):
// the probe meets it, and only it is taken for "not loaded yet".
import { test } from "node:test";
import assert from "node:assert/strict";
import { isSchemaNotLoaded } from "../../../src/kube/finalizer-policy.js";

void test("the API server's refusal while its mutating policies lack a new CRD's schema is recognised; other refusals are not", () => {
  // The API server's message, as kubectl 1.36 printed it in a CI run creating a VirtualIP just after helm install.
  const refusal =
    "Resource kind keepalived-vip.io/v1alpha1, Kind=VirtualIP not found. There can be a delay between when CustomResourceDefinitions are created and when they are available.";
  assert.equal(isSchemaNotLoaded(refusal), true);
  for (const other of [
    "the server is currently unable to handle the request",
    "the server could not find the requested resource (post virtualips.keepalived-vip.io)",
    'VirtualIP.keepalived-vip.io "web" is invalid: spec.address: Invalid value: "300.0.0.1"',
    "",
  ])
    assert.equal(isSchemaNotLoaded(other), false, other);
});
