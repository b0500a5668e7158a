// ESLint for the whole monorepo. Each package runs `eslint .` from its own folder (turbo's `lint` task, cached
// per package); type-aware rules get their types from the package's tsconfig.json through the project service.
// Every rule below that is off or tuned says why, from what it found in this code when it was turned on.
import js from "@eslint/js";
import prettier from "eslint-config-prettier";
import globals from "globals";
import tseslint from "typescript-eslint";

export default tseslint.config(
  {
    name: "fairseq-ts/ignores",
    ignores: [
      "**/dist/**",
      "**/node_modules/**",
      "**/coverage/**",
      "**/.turbo/**",
      "docs/api/**",
      "bench-results/**",
      "apps/examples/work/**",
      "apps/fuzz/fuzz-crashes/**",
      "apps/web/artifacts/**",
      "**/.vitest.blocking.config.ts",
    ],
  },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    name: "fairseq-ts/type-aware",
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
      globals: { ...globals.node },
    },
    linterOptions: { reportUnusedDisableDirectives: "error" },
    rules: {
      // Promises: the bugs type information finds (training loops, workers, file I/O are all async).
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/await-thenable": "error",
      "@typescript-eslint/require-await": "error",
      // A switch over a union must name every member, or say what the rest do in a `default`.
      "@typescript-eslint/switch-exhaustiveness-check": ["error", { considerDefaultExhaustiveForUnions: true }],
      // `import type` keeps Node-only and tfjs types out of browser bundles' runtime imports. `typeof import("node:x")`
      // stays allowed: it is how nodeBuiltin() is typed without a static `node:` import.
      "@typescript-eslint/consistent-type-imports": ["error", { fixStyle: "inline-type-imports", disallowTypeAnnotations: false }],
      // Replaces tsc's --noUnusedLocals/--noUnusedParameters; `_` marks what is unused on purpose.
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrorsIgnorePattern: "^_", destructuredArrayIgnorePattern: "^_" },
      ],
      // Shapes are printed as `[${x.shape}]` on purpose ("2,3" inside brackets); objects and unknowns still must be stringified by hand.
      "@typescript-eslint/restrict-template-expressions": ["error", { allowArray: true, allowNumber: true, allowBoolean: true, allowNullish: true }],
      // Off: 86 sites, none a bug. They are runtime guards where the declared type is narrower than what arrives:
      // tfjs's getKernel() is typed non-undefined but returns undefined for a missing kernel, Record lookups without
      // noUncheckedIndexedAccess, and validation of untrusted input (config files, pickles, headers, worker messages).
      "@typescript-eslint/no-unnecessary-condition": "off",
      // Off: 1145 sites, none a bug: `arr[i]!` on indexed access (which noUncheckedIndexedAccess makes necessary) and
      // tfjs's `tf.sum(...) as tf.Scalar` idiom for the rank a kernel returns.
      "@typescript-eslint/no-unnecessary-type-assertion": "off",
    },
  },
  {
    // Tests read untyped JSON fixtures and use vitest's asymmetric matchers (typed `any`): `any` is expected there.
    name: "fairseq-ts/tests",
    files: ["**/test/**/*.ts"],
    rules: {
      "@typescript-eslint/no-unsafe-argument": "off",
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-call": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-return": "off",
    },
  },
  {
    // Files outside every tsconfig (bundler/test-runner configs, plain-JS benches, scripts and fixtures): linted
    // without type information.
    name: "fairseq-ts/untyped-files",
    files: ["**/*.js", "**/*.mjs", "**/*.cjs", "**/tsup.config.ts", "**/vitest.config.ts", "**/vite.config.ts"],
    extends: [tseslint.configs.disableTypeChecked],
  },
  prettier,
);
