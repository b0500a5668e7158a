import { defineConfig } from "tsup";

export default defineConfig({
  // The worker is its own entry: preprocess starts it with new Worker(new URL(...)).
  entry: ["src/index.ts", "src/preprocess-worker.ts"],
  format: ["esm", "cjs"],
  dts: { entry: "src/index.ts" },
  clean: true,
  shims: true,
  target: "node20",
});
