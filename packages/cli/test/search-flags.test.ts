/**
 * --constraints and --diversity-rate through the CLI on fairseq's reference model, and what fairseq-ts refuses
 * of them (generate --constraints, --print-step, --retain-iter-history) with fairseq's reasons.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SHARED } from "./shared.js";
import { runCli } from "./cli.js";

const R = join(SHARED, "reference/fairseq/multi30k-de-en");
const INTERACTIVE = ["interactive", join(R, "bin"), "--path", join(R, "model.pt"), "--beam", "5", "--nbest", "3"];
const lines = (text: string, prefix: RegExp) => text.split("\n").filter((l) => prefix.test(l));
const hyps = (text: string, id: number) => lines(text, new RegExp(`^H-${id}\\t`)).map((l) => l.split("\t")[2]!);

describe("interactive --constraints (fairseq-interactive: constraints after tabs, C- lines)", () => {
  it("every hypothesis holds the constraints; C- lines follow S-; a line without tabs decodes as plain beam search", async () => {
    const input = "zwei männer sitzen in einem restaurant .\ttable\tfood\nzwei kleine kinder auf dem sand .\tbeach\t\nein hund .\n";
    const ordered = await runCli([...INTERACTIVE, "--constraints"], { input });
    expect(ordered.status, ordered.stderr).toBe(0);
    // (the trailing tab of line 2 is stripped with the line, as fairseq's buffered_read does)
    expect(lines(ordered.stdout, /^[SC]-/)).toEqual([
      "S-0\tzwei männer sitzen in einem restaurant .",
      "C-0\ttable",
      "C-0\tfood",
      "S-1\tzwei kleine kinder auf dem sand .",
      "C-1\tbeach",
      "S-2\tein hund .",
    ]);
    for (const h of hyps(ordered.stdout, 0)) expect(h).toMatch(/\btable\b.*\bfood\b/);
    for (const h of hyps(ordered.stdout, 1)) expect(h).toMatch(/\bbeach\b/);
    expect(hyps(ordered.stdout, 0)).toHaveLength(3);
    const plain = await runCli(INTERACTIVE, { input: "ein hund .\nzwei männer sitzen in einem restaurant .\n" });
    expect(plain.status, plain.stderr).toBe(0);
    expect(hyps(ordered.stdout, 2)).toEqual(hyps(plain.stdout, 0));
    expect(hyps(plain.stdout, 1).some((h) => /table/.test(h))).toBe(false);
    // unordered: "food" may come first
    const unordered = await runCli([...INTERACTIVE, "--constraints", "unordered"], { input: "zwei männer sitzen in einem restaurant .\tfood\ttable\n" });
    expect(unordered.status, unordered.stderr).toBe(0);
    for (const h of hyps(unordered.stdout, 0)) expect(h.split(" ")).toEqual(expect.arrayContaining(["food", "table"]));
    const inOrder = await runCli([...INTERACTIVE, "--constraints", "ordered"], { input: "zwei männer sitzen in einem restaurant .\tfood\ttable\n" });
    for (const h of hyps(inOrder.stdout, 0)) expect(h).toMatch(/\bfood\b.*\btable\b/);
    // constraints go through --tokenizer like the source (fairseq's encode_fn): "beach." is the two tokens "beach ."
    const raw = await runCli([...INTERACTIVE, "--constraints", "--tokenizer", "moses", "-s", "de", "-t", "en"], {
      input: "zwei kleine kinder auf dem sand.\tbeach.\n",
    });
    expect(raw.status, raw.stderr).toBe(0);
    expect(lines(raw.stdout, /^C-/)).toEqual(["C-0\tbeach ."]);
    for (const h of hyps(raw.stdout, 0)) expect(h).toMatch(/\bbeach \./);
  }, 120_000);

  it("refusals: an empty constraint names its line; a search strategy without constraints support; generate", async () => {
    const empty = await runCli([...INTERACTIVE, "--constraints"], { input: "ein hund .\tdog\nein hund .\t\tdog\n" });
    expect(empty.status).not.toBe(0);
    expect(empty.stderr).toMatch(/--constraints: input line 2: constraint 1 is empty/);
    const siblings = await runCli([...INTERACTIVE, "--constraints", "--diversity-rate", "0.5"], { input: "ein hund .\tdog\n" });
    expect(siblings.status).not.toBe(0);
    expect(siblings.stderr).toMatch(/--constraints: the search strategy that --diversity-rate chooses does not support constraints/);
    const gen = await runCli(["generate", join(R, "bin"), "--path", join(R, "model.pt"), "--constraints"]);
    expect(gen.status).toBe(2);
    expect(gen.stderr).toMatch(/--constraints'?: not supported by fairseq-ts: fairseq-generate takes constraints from the dataset's samples/);
    for (const flag of ["--print-step", "--retain-iter-history"]) {
      const r = await runCli(["generate", join(R, "bin"), "--path", join(R, "model.pt"), flag]);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/iterative refinement decoding .*KeyError/);
    }
  }, 120_000);
});

describe("--diversity-rate through the CLI", () => {
  it("interactive: rate 0 = beam search's n-best; rate 1 changes it; exclusive with --sampling above 0", async () => {
    const input = "zwei männer sitzen in einem restaurant .\nzwei kleine kinder auf dem sand .\n";
    const plain = await runCli(INTERACTIVE, { input });
    const zero = await runCli([...INTERACTIVE, "--diversity-rate", "0"], { input });
    const one = await runCli([...INTERACTIVE, "--diversity-rate", "1"], { input });
    for (const r of [plain, zero, one]) expect(r.status, r.stderr).toBe(0);
    expect(lines(zero.stdout, /^[HP]-/)).toEqual(lines(plain.stdout, /^[HP]-/));
    expect(lines(one.stdout, /^H-/)).not.toEqual(lines(plain.stdout, /^H-/));
    // the best hypothesis' first token has no penalty (step 0 is a plain beam step): same first P- value
    expect(lines(one.stdout, /^P-0/)[0]!.split("\t")[1]!.split(" ")[0]).toBe(lines(plain.stdout, /^P-0/)[0]!.split("\t")[1]!.split(" ")[0]);
    const both = await runCli([...INTERACTIVE, "--diversity-rate", "0.5", "--sampling"], { input });
    expect(both.status).not.toBe(0);
    expect(both.stderr).toMatch(/mutually exclusive: --sampling, --diversity-rate/);
  }, 120_000);
});
