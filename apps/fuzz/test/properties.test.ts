import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Dictionary } from "@fairseq-ts/dictionary";
import { MMapIndexedDataset, MMapIndexedDatasetBuilder, batchBySize, bestFittingDtype, splitSample, type Sample } from "@fairseq-ts/data";
import { decodeSafetensors, encodeSafetensors, f32, toFloat32 } from "@fairseq-ts/models";
import { BleuScorer, sacreBleu } from "@fairseq-ts/generate";

// Property-based tests (fast-check): invariants over generated inputs, including astral code points.
const RUNS = { numRuns: 200, seed: 20261124 };
const symbol = fc
  .string({ unit: "binary", minLength: 1, maxLength: 12 })
  // dict.txt symbols cannot hold whitespace (Python's set: \s plus \x1c-\x1f and \x85)
  // eslint-disable-next-line no-control-regex -- Python's str.split() splits on these control characters too
  .filter((s) => !/[\s\x1c-\x1f\x85]/u.test(s) && !s.startsWith("#fairseq"));

describe("properties", () => {
  it("dict.txt: format() then parse() gives back the same symbols, counts and ids (any Unicode)", () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.tuple(symbol, fc.integer({ min: 0, max: 1e6 })), { selector: (t) => t[0], maxLength: 40 }), (entries) => {
        const d = new Dictionary();
        for (const [s, n] of entries) d.addSymbol(s, n);
        const back = Dictionary.parse(d.format());
        expect(back.length).toBe(d.length);
        for (let i = 0; i < d.length; i++) expect(back.symbol(i)).toBe(d.symbol(i));
        expect(back.format()).toBe(d.format());
      }),
      RUNS,
    );
  });

  it(".bin/.idx: every item written is read back identically, in the smallest dtype that fits", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fsts-prop-idx-"));
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 70000 }), fc.array(fc.array(fc.nat(), { maxLength: 30 }), { maxLength: 30 }), async (vocab, items) => {
        const seqs = items.map((it) => it.map((x) => x % vocab));
        const prefix = join(dir, `d${n++}`);
        const b = new MMapIndexedDatasetBuilder(`${prefix}.bin`, bestFittingDtype(vocab));
        for (const s of seqs) b.addItem(s);
        await b.finalize(`${prefix}.idx`);
        const ds = MMapIndexedDataset.open(prefix);
        expect(ds.length).toBe(seqs.length);
        seqs.forEach((s, i) => expect(Array.from(ds.get(i))).toEqual(s));
      }),
      { ...RUNS, numRuns: 60 },
    );
  });

  it("batchBySize: every index exactly once, in order; token budget respected; full batches cut to a multiple", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 200 }),
        fc.integer({ min: 50, max: 400 }),
        fc.integer({ min: 1, max: 8 }),
        (sizes, maxTokens, mult) => {
          const order = Int32Array.from(sizes.keys());
          const batches = batchBySize(order, (i) => sizes[i]!, { maxTokens, requiredBatchSizeMultiple: mult });
          expect(batches.flatMap((b) => Array.from(b))).toEqual(Array.from(order));
          for (const b of batches) {
            const longest = Math.max(...Array.from(b, (i) => sizes[i]!));
            expect(b.length * longest).toBeLessThanOrEqual(maxTokens);
          }
          // fairseq's bsz_mult: a full batch is cut to a multiple of mult, unless it holds fewer than mult
          for (const b of batches.slice(0, -1)) expect(b.length % mult === 0 || b.length < mult).toBe(true);
        },
      ),
      RUNS,
    );
  });

  it("splitSample: chunks partition the rows, keep every token, respect the budget", () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.integer({ min: 4, max: 30 }), { minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 20 }),
        fc.integer({ min: 8, max: 120 }),
        (rowsTokens, budget) => {
          const pad = 1;
          const width = Math.max(...rowsTokens.map((r) => r.length));
          const rows = rowsTokens.length;
          const left = new Int32Array(rows * width).fill(pad);
          const right = new Int32Array(rows * width).fill(pad);
          rowsTokens.forEach((r, i) => {
            left.set(r, i * width + width - r.length);
            right.set(r, i * width);
          });
          const s: Sample = {
            id: Int32Array.from(rowsTokens.keys()),
            nsentences: rows,
            ntokens: rowsTokens.reduce((a, r) => a + r.length, 0),
            netInput: {
              srcTokens: { data: left, rows, cols: width },
              srcLengths: Int32Array.from(rowsTokens.map((r) => r.length)),
              prevOutputTokens: { data: right.slice(), rows, cols: width },
            },
            target: { data: right, rows, cols: width },
          };
          const chunks = splitSample(s, budget, pad);
          expect(chunks.flatMap((c) => Array.from(c.id))).toEqual(Array.from(s.id));
          expect(chunks.reduce((a, c) => a + c.ntokens, 0)).toBe(s.ntokens);
          for (const c of chunks) {
            if (c.nsentences > 1)
              expect(c.netInput.srcTokens.rows * c.netInput.srcTokens.cols).toBeLessThanOrEqual(
                Math.max(budget, c.netInput.srcTokens.cols * Math.ceil(rows / Math.ceil((rows * width) / budget))),
              );
            c.id.forEach((id, r) => {
              const src = Array.from(c.netInput.srcTokens.data.subarray(r * c.netInput.srcTokens.cols, (r + 1) * c.netInput.srcTokens.cols)).filter(
                (t) => t !== pad,
              );
              expect(src).toEqual(rowsTokens[id]);
            });
          }
        },
      ),
      RUNS,
    );
  });

  it("safetensors: any float32 tensors and metadata round-trip bit for bit", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.tuple(fc.string({ minLength: 1, maxLength: 10 }), fc.array(fc.float({ noNaN: false }), { maxLength: 20 })), {
          selector: (t) => t[0],
          maxLength: 6,
        }),
        fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 20 })),
        (tensors, meta) => {
          const m = new Map(tensors.map(([k, v]) => [k, f32([v.length], Float32Array.from(v))]));
          const back = decodeSafetensors(encodeSafetensors(m, meta));
          expect([...back.tensors.keys()].sort()).toEqual([...m.keys()].sort());
          for (const [k, v] of m)
            expect(new Uint8Array(toFloat32(back.tensors.get(k)!).buffer)).toEqual(new Uint8Array(Float32Array.from(toFloat32(v)).buffer));
          expect(back.metadata).toEqual(meta);
        },
      ),
      RUNS,
    );
  });

  it("BLEU: a system equal to its reference scores 100 (fairseq's and sacrebleu's); scores stay within [0, 100]", () => {
    const words = fc.array(fc.constantFrom("a", "b", "c", "d", "e", "f"), { minLength: 4, maxLength: 12 });
    fc.assert(
      fc.property(fc.array(words, { minLength: 1, maxLength: 8 }), fc.array(words, { minLength: 1, maxLength: 8 }), (refs, hypsRaw) => {
        const hyps = refs.map((_, i) => hypsRaw[i % hypsRaw.length]!);
        const same = sacreBleu(
          refs.map((r) => r.join(" ")),
          [refs.map((r) => r.join(" "))],
        );
        expect(same.score).toBeCloseTo(100, 9);
        const s = sacreBleu(
          hyps.map((h) => h.join(" ")),
          [refs.map((r) => r.join(" "))],
        ).score;
        expect(s).toBeGreaterThanOrEqual(0);
        expect(s).toBeLessThanOrEqual(100 + 1e-9);
        const ids = (w: string[]) => Int32Array.from(w, (x) => 4 + x.charCodeAt(0) - 97);
        const fb = new BleuScorer(1, 2, 3);
        refs.forEach((r) => fb.add(ids(r), ids(r)));
        expect(fb.score()).toBeCloseTo(100, 9);
      }),
      RUNS,
    );
  });
});
