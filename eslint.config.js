// Lint rules: readable, promise-safe TypeScript, and the dependency direction
// between folders (see docs/architecture.md).
import js from "@eslint/js";
import tseslint from "typescript-eslint";

const restrict = (patterns) => ({
  "no-restricted-imports": ["error", { patterns }],
});

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "coverage/", ".dev/", "charts/", "**/*.mjs", "eslint.config.js"] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/explicit-function-return-type": ["error", { allowExpressions: true, allowTypedFunctionExpressions: true }],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "max-params": ["error", 4],
      "no-console": "off",
    },
  },
  // Size: a module a reader can hold in mind, functions that fit on a screen (comments and blank lines not counted).
  {
    files: ["src/**/*.ts"],
    rules: {
      "max-lines": ["error", { max: 300, skipBlankLines: true, skipComments: true }],
      "max-lines-per-function": ["error", { max: 60, skipBlankLines: true, skipComments: true }],
    },
  },
  {
    files: ["test/**/*.ts"],
    rules: {
      "@typescript-eslint/explicit-function-return-type": "off",
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-non-null-assertion": "off",
      "max-params": "off",
    },
  },
  // Dependency direction: api knows only zod; crd and render are pure.
  {
    files: ["src/api/**/*.ts"],
    rules: restrict([
      { group: ["../*", "!../api/*"], message: "src/api depends on nothing but zod" },
      { group: ["@kubernetes/*", "@dot-i/*", "winston", "prom-client", "node:*"], message: "src/api is pure" },
    ]),
  },
  {
    files: ["src/crd/**/*.ts", "src/render/**/*.ts"],
    rules: restrict([
      { group: ["../operator/*", "../agent/*", "../kube/*", "../cli/*", "../shared/logger*", "../shared/metrics*"], message: "crd/ and render/ are pure" },
      {
        group: ["@dot-i/*", "winston", "prom-client", "node:fs*", "node:child_process", "node:net", "node:http*"],
        message: "crd/ and render/ are pure (no I/O)",
      },
    ]),
  },
  {
    files: ["src/operator/**/*.ts"],
    rules: restrict([
      { group: ["../agent/*"], message: "operator and agent never import each other" },
      { group: ["../cli/*"], message: "only src/cli wires commands" },
      { group: ["@kubernetes/client-node", "@dot-i/*"], allowTypeImports: true, message: "Kubernetes I/O goes through src/kube" },
    ]),
  },
  {
    files: ["src/agent/**/*.ts"],
    rules: restrict([
      { group: ["../operator/*"], message: "operator and agent never import each other" },
      { group: ["../cli/*"], message: "only src/cli wires commands" },
      { group: ["@kubernetes/client-node", "@dot-i/*"], allowTypeImports: true, message: "Kubernetes I/O goes through src/kube" },
    ]),
  },
  {
    files: ["src/kube/**/*.ts"],
    rules: restrict([
      {
        group: ["../operator/*", "../agent/*", "../render/*", "../crd/*", "../cli/*"],
        message: "src/kube knows only api/ and shared/: it is the I/O layer under operator and agent",
      },
    ]),
  },
  {
    files: ["src/shared/**/*.ts"],
    rules: restrict([
      { group: ["../*", "!../shared/*"], message: "src/shared depends on no other folder of src" },
      { group: ["@kubernetes/*", "@dot-i/*"], message: "src/shared has no Kubernetes code" },
    ]),
  },
);
