import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { englishNumber, germanNumber } from "../src/numbers.js";

const here = dirname(fileURLToPath(import.meta.url));

describe("the README's main job", () => {
  it("generates data, binarizes, trains, translates with BLEU ≥ 90, and gets new sentences right", async () => {
    const work = mkdtempSync(join(tmpdir(), "fsts-main-job-"));
    const tsx = join(here, "../node_modules/.bin/tsx");
    // Asynchronous: a blocked event loop would starve vitest's worker messages during the long run.
    const r = await new Promise<{ status: number | null; stderr: string }>((resolve) => {
      const p = spawn(tsx, [join(here, "../src/main-job.ts")], { env: { ...process.env, FAIRSEQ_TS_WORK: work } });
      let stderr = "";
      p.stdout.resume();
      p.stderr.on("data", (d) => (stderr += String(d)));
      p.on("close", (status) => resolve({ status, stderr }));
    });
    expect(r.status, r.stderr.slice(-2000)).toBe(0);
    const result = JSON.parse(readFileSync(join(work, "result.json"), "utf8")) as { bleu: string; translations: { de: string; en: string }[] };
    const bleu = Number(/BLEU4 = ([\d.]+)/.exec(result.bleu)![1]);
    expect(bleu).toBeGreaterThanOrEqual(90);
    // The expected English for the demo sentences, from the independent number-to-words writer.
    const want = [
      `i have ${englishNumber(324).join(" ")} cats .`,
      `we see ${englishNumber(7111).join(" ")} dogs .`,
      englishNumber(99).join(" "),
      `there are ${englishNumber(2845).join(" ")} books .`,
    ];
    expect(result.translations.map((t) => t.de)).toEqual([
      `ich habe ${germanNumber(324).join(" ")} katzen .`,
      `wir sehen ${germanNumber(7111).join(" ")} hunde .`,
      germanNumber(99).join(" "),
      `dort sind ${germanNumber(2845).join(" ")} bücher .`,
    ]);
    const correct = result.translations.filter((t, i) => t.en === want[i]).length;
    expect(correct).toBeGreaterThanOrEqual(3);
  }, 1_300_000);
});
