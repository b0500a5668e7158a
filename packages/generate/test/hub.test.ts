import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "@fairseq-ts/backend";
import { fromPretrained } from "../src/index.js";
import { SHARED } from "./shared.js";

const R = join(SHARED, "reference/fairseq/multi30k-de-en");

beforeAll(async () => {
  await initBackend({ backend: "wasm", log: null });
});

describe("hub interface (fromPretrained)", () => {
  it("translates like fairseq-generate with an imported fairseq checkpoint", async () => {
    const t = await fromPretrained(join(R, "model.pt"), { dataDir: join(R, "bin"), beam: 5 });
    const ref = readFileSync(join(R, "gen-beam5.txt"), "utf8");
    const hyp = (id: number) => new RegExp(`^H-${id}\\t\\S+\\t(.*)$`, "m").exec(ref)![1];
    expect(t.translate("zwei männer sitzen in einem restaurant .")).toBe(hyp(592));
    expect(t.translate(["zwei kleine kinder auf dem sand .", "zwei typen und eine frau lächeln ."])).toEqual([hyp(398), hyp(426)]);
    expect(typeof t.sample("zwei männer sitzen in einem restaurant .", { samplingTopk: 5, seed: 2 })).toBe("string");
    // score = fairseq-generate --score-reference's H score (base 2 there) and P line
    const sr = readFileSync(join(R, "score-reference.txt"), "utf8");
    const h592 = /^H-592\t(\S+)\t/m.exec(sr)!;
    const p592 = /^P-592\t(.*)$/m.exec(sr)![1]!.split(" ").map(Number);
    const [sc] = t.score("zwei männer sitzen in einem restaurant .", "two men sitting in a restaurant .");
    expect(sc!.score / Math.LN2).toBeCloseTo(Number(h592[1]), 4);
    Array.from(sc!.positionalScores).forEach((p, i) => expect(p / Math.LN2).toBeCloseTo(p592[i]!, 3));
    expect(() => t.score(["a"], ["b", "c"])).toThrow(/1 sources but 2 targets/);
    t.dispose();
    // raw text in and out with fairseq's --tokenizer moses
    const raw = await fromPretrained(join(R, "model.pt"), { dataDir: join(R, "bin"), beam: 5, tokenizer: "moses" });
    expect(raw.translate("zwei männer sitzen in einem restaurant.")).toBe(hyp(592)!.replace(/ \.$/, "."));
    raw.dispose();
  }, 60_000);
});
