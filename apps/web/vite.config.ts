import { defineConfig } from "vite";

export default defineConfig({
  // Relative asset URLs: the built page works from any folder (a static host's subpath, file servers).
  base: "./",
  build: { target: "es2022", chunkSizeWarningLimit: 4096 },
});
