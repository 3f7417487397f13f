// Public surface of the API package: constants, names, schemas, conditions.
export * from "./constants.js";
export * from "./names.js";
export * from "./ip.js";
export * from "./virtualip.js";
export * from "./virtualip-status.js";
export * from "./conditions.js";
export * from "./rules.js";
export * from "./nodeconfig.js";
export * from "./iprange.js";
export * from "./pool.js";
