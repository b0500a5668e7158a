import { defineConfig } from "vitest/config";

export default defineConfig({
  // 5 min: a test that takes 6 s on a quiet machine took over 60 s beside two busy loops (scripts/ci-under-load.sh);
  // tests that can hang (workers, child processes) set their own, shorter timeouts.
  test: { include: ["test/**/*.test.ts"], testTimeout: 300_000 },
});
