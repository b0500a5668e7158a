import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SHARED } from "./shared.js";
import { runCli } from "./cli.js";

const R = join(SHARED, "reference/fairseq/multi30k-de-en");
const INTERACTIVE = ["interactive", join(R, "bin"), "--path", join(R, "model.pt"), "--beam", "2"];
// 1,500 words + eos: longer than fairseq's default --max-source-positions 1024 and the model's 1024
const LONG = `${"ein ".repeat(1500).trim()}\n`;
const SHORT = "zwei männer sitzen in einem restaurant .\n";

describe("interactive's size check on encoded inputs, as fairseq-interactive", () => {
  it("stops at an input longer than max positions with fairseq's message", async () => {
    const r = await runCli(INTERACTIVE, { input: LONG + SHORT });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(
      "Size of sample #0 is invalid (=(1501, 0)) since max_positions=(1024, 1024), skip this example with --skip-invalid-size-inputs-valid-test",
    );
    expect(r.stdout).not.toMatch(/^S-/m);
  }, 120_000);

  it("--skip-invalid-size-inputs-valid-test skips it; the next line keeps its own id", async () => {
    const r = await runCli([...INTERACTIVE, "--skip-invalid-size-inputs-valid-test"], { input: LONG + SHORT });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(/^S-0\t/m);
    expect(r.stdout).toMatch(/^S-1\tzwei männer sitzen in einem restaurant \.$/m);
    expect(r.stdout).toMatch(/^H-1\t/m);
  }, 120_000);

  it("--max-source-positions lowers the limit (the smaller of the task's and the model's)", async () => {
    const r = await runCli([...INTERACTIVE, "--max-source-positions", "5"], { input: SHORT });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("Size of sample #0 is invalid (=(8, 0)) since max_positions=(5, 1024)");
  }, 120_000);
});
