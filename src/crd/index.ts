// Public surface of the CRD package: the VirtualIP CustomResourceDefinition
// generated from the zod schema. Pure.
export * from "./structural.js";
export * from "./virtualip.js";
export * from "./pool.js";
