import { defineConfig } from "tsup";

export default defineConfig({
  // gradients-bundle is a separate entry so that it is only loaded when registerGradients() runs.
  entry: ["src/index.ts", "src/gradients-bundle.ts"],
  format: ["esm", "cjs"],
  dts: { entry: "src/index.ts" },
  clean: true,
  target: "node20",
  // tfjs-core's Node entry (CJS) registers no gradients and its ESM gradient modules cannot be
  // required from Node, so the gradient definitions are bundled in from tfjs-core's ESM sources.
  // They register into tfjs's global registry, shared with the external tfjs-core instance.
  noExternal: [/^@tensorflow\/tfjs-core\/dist\//],
});
