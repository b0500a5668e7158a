import { defineConfig } from "vite";

export default defineConfig({
  // Relative asset URLs: the built page works from any folder (a static host's subpath, file servers).
  base: "./",
  // A static multi-page site: a missing file is a 404, not index.html (the SPA fallback would hand the
  // model loader an HTML page in place of a dictionary).
  appType: "mpa",
  build: { target: "es2022", chunkSizeWarningLimit: 4096 },
  // the translator's Web Worker is a module (it imports the same library bundle and its .wasm URLs)
  worker: { format: "es" },
});
