// The VirtualIPPool CustomResourceDefinition (cluster-scoped), built from the
// zod schemas in src/api and rendered as YAML. Pure.
import yaml from "js-yaml";
import {
  CATEGORIES,
  GROUP,
  POOL_KIND,
  POOL_LIST_KIND,
  POOL_PLURAL,
  POOL_SHORT_NAMES,
  POOL_SINGULAR,
  VERSION,
  poolSchema,
  poolSpecSchema,
  poolStatusSchema,
} from "../api/index.js";
import { CRD_HEADER, objectSchema, type CustomResourceDefinition, type PrinterColumn } from "./virtualip.js";

/** Path of the generated pool CRD, relative to the repository root (copied like the VirtualIP CRD). */
export const POOL_CRD_FILE = "crds/keepalived-vip.io_virtualippools.yaml";

/** Columns of `kubectl get virtualippools`. */
export const POOL_PRINTER_COLUMNS: readonly PrinterColumn[] = [
  { name: "Addresses", type: "string", jsonPath: ".spec.addresses", description: "The addresses of the pool." },
  { name: "Allocated", type: "integer", jsonPath: ".status.allocated", description: "Addresses in use by VirtualIPs." },
  { name: "Available", type: "integer", jsonPath: ".status.available", description: "Addresses still free." },
  { name: "Status", type: "string", jsonPath: '.status.conditions[?(@.type=="Ready")].reason', description: "Reason of the Ready condition." },
  { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp", description: "Time since the object was created." },
  { name: "Router IDs", type: "string", jsonPath: ".spec.virtualRouterIds", description: "The router ids of the pool.", priority: 1 },
];

/** Builds the VirtualIPPool CustomResourceDefinition object. */
export function buildPoolCrd(): CustomResourceDefinition {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${POOL_PLURAL}.${GROUP}` },
    spec: {
      group: GROUP,
      names: {
        kind: POOL_KIND,
        listKind: POOL_LIST_KIND,
        plural: POOL_PLURAL,
        singular: POOL_SINGULAR,
        shortNames: [...POOL_SHORT_NAMES],
        categories: [...CATEGORIES],
      },
      scope: "Cluster",
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          schema: { openAPIV3Schema: objectSchema(poolSchema, poolSpecSchema, poolStatusSchema) },
          subresources: { status: {} },
          additionalPrinterColumns: POOL_PRINTER_COLUMNS.map((c) => ({ ...c })),
        },
      ],
    },
  };
}

/** Renders the pool CRD as YAML, keys sorted (same schema, same bytes). */
export function renderPoolCrd(): string {
  const body = yaml.dump(buildPoolCrd(), { sortKeys: true, lineWidth: -1, noRefs: true });
  return `${CRD_HEADER}${body}`;
}
