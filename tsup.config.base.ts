import { defineConfig } from "tsup";

/** The build every library package uses: ESM + CJS + .d.ts from src/index.ts, for Node 20. */
export default defineConfig({
  entry: ["src/index.ts"],
  format: ["esm", "cjs"],
  dts: true,
  clean: true,
  sourcemap: false,
  target: "node20",
});
