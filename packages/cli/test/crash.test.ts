import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "./cli.js";
import { readCheckpointFile } from "@fairseq-ts/trainer";
import { toFloat32 } from "@fairseq-ts/models";
import { REF_BIN, TINY_TRANSFORMER_FLAGS } from "./shared.js";

const run = (args: string[], env: Record<string, string> = {}, onLine?: (line: string, pid: number) => void) => runCli(args, { env, onLine });

const trainArgs = (saveDir: string, maxUpdate: number) => [
  "train",
  REF_BIN,
  ...TINY_TRANSFORMER_FLAGS,
  ..."--optimizer adam --lr 0.001 --max-tokens 1000 --log-format simple --log-interval 1 --disable-validation --save-interval-updates 2".split(" "),
  ...["--max-update", String(maxUpdate), "--save-dir", saveDir],
];

async function allCheckpointsLoad(dir: string): Promise<string[]> {
  const names = readdirSync(dir)
    .filter((f) => f.endsWith(".safetensors"))
    .sort();
  for (const f of names) await readCheckpointFile(join(dir, f)); // throws on a torn file
  return names;
}

describe("crash safety of fairseq-ts train (real child processes)", () => {
  it.each([
    ["atomic-write:mid@2", "killed halfway through writing checkpoint_1_4"],
    ["checkpoint-copy:before-rename@2", "killed after copying checkpoint_last's new content, before the rename"],
  ])(
    "SIGKILL at failpoint %s (%s): the previous checkpoint_last loads, no torn file looks valid, rerunning resumes",
    async (failpoint) => {
      const save = mkdtempSync(join(tmpdir(), "fsts-crash-"));
      const killed = await run(trainArgs(save, 6), { FAIRSEQ_TS_FAILPOINT: failpoint });
      expect(killed.signal, killed.out).toBe("SIGKILL");
      expect(readdirSync(save).some((f) => f.startsWith(".") && f.endsWith(".tmp"))).toBe(true); // it died mid-save
      expect(await allCheckpointsLoad(save)).toContain("checkpoint_last.safetensors");
      expect((await readCheckpointFile(join(save, "checkpoint_last.safetensors"))).meta.numUpdates).toBe(2);
      const again = await run(trainArgs(save, 6));
      expect(again.status, again.out).toBe(0);
      expect(again.out).toMatch(/loaded checkpoint .*checkpoint_last\.safetensors \(epoch 1 @ 2 updates\)/);
      expect((await readCheckpointFile(join(save, "checkpoint_last.safetensors"))).meta.numUpdates).toBe(6);
      expect(readdirSync(save).filter((f) => f.endsWith(".tmp"))).toEqual([]);
      await allCheckpointsLoad(save);
    },
    120_000,
  );

  it("SIGKILL at seeded-random moments of a run (saves every 2 updates, so some land mid-save): every file left loads, reruns finish", async () => {
    let seed = 20261201;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    for (let trial = 0; trial < 3; trial++) {
      const save = mkdtempSync(join(tmpdir(), "fsts-randkill-"));
      const delay = 200 + Math.floor(rand() * 2500); // ms after the first update is logged
      let timer: NodeJS.Timeout | undefined;
      const killed = await run(trainArgs(save, 40), {}, (line, pid) => {
        if (!timer && /num_updates=1,/.test(line)) timer = setTimeout(() => process.kill(pid, "SIGKILL"), delay);
      });
      clearTimeout(timer);
      expect(killed.signal, `trial ${trial} (${delay} ms): ${killed.out.slice(-500)}`).toBe("SIGKILL");
      const left = await allCheckpointsLoad(save); // a torn checkpoint would throw
      const again = await run(trainArgs(save, 40));
      expect(again.status, again.out).toBe(0);
      if (left.includes("checkpoint_last.safetensors")) expect(again.out).toMatch(/loaded checkpoint .*checkpoint_last\.safetensors/);
      expect((await readCheckpointFile(join(save, "checkpoint_last.safetensors"))).meta.numUpdates).toBe(40);
      expect(readdirSync(save).filter((f) => f.endsWith(".tmp"))).toEqual([]);
      await allCheckpointsLoad(save);
    }
  }, 300_000);

  it("disk full (simulated ENOSPC halfway through writing checkpoint_1_4): a clear error naming the file, no temp file, checkpoint_last intact, rerun resumes", async () => {
    const save = mkdtempSync(join(tmpdir(), "fsts-enospc-"));
    const full = await run(trainArgs(save, 6), { FAIRSEQ_TS_FAILPOINT: "atomic-write:mid@2:enospc" });
    expect(full.status, full.out).toBe(1);
    expect(full.out).toMatch(
      /checkpoint_1_4\.safetensors: cannot write \(ENOSPC: no space left on device, write\); the previous checkpoint_1_4\.safetensors, if any, is unchanged/,
    );
    expect(full.out).not.toMatch(/\n\s+at /); // no stack trace
    expect(readdirSync(save).filter((f) => f.endsWith(".tmp"))).toEqual([]);
    expect(await allCheckpointsLoad(save)).toEqual(["checkpoint_1_2.safetensors", "checkpoint_last.safetensors"]);
    expect((await readCheckpointFile(join(save, "checkpoint_last.safetensors"))).meta.numUpdates).toBe(2);
    const again = await run(trainArgs(save, 6));
    expect(again.status, again.out).toBe(0);
    expect((await readCheckpointFile(join(save, "checkpoint_last.safetensors"))).meta.numUpdates).toBe(6);
  }, 120_000);

  it("NaN in a batch (update 3's loss poisoned): stops like fairseq's FloatingPointError, nothing NaN is saved, rerun resumes", async () => {
    const save = mkdtempSync(join(tmpdir(), "fsts-nan-"));
    const r = await run(trainArgs(save, 6), { FAIRSEQ_TS_FAILPOINT: "train:nan-batch@3:flag" });
    expect(r.status, r.out).toBe(1);
    expect(r.out).toMatch(/gradients are Nan\/Inf at update 3/);
    expect(r.out).not.toMatch(/\n\s+at /); // no stack trace
    expect(r.out).not.toMatch(/num_updates=3,/); // the poisoned update was not applied
    const last = await readCheckpointFile(join(save, "checkpoint_last.safetensors"));
    expect(last.meta.numUpdates).toBe(2);
    for (const [name, t] of last.model) expect(toFloat32(t).every(Number.isFinite), name).toBe(true);
    const again = await run(trainArgs(save, 6));
    expect(again.status, again.out).toBe(0);
    expect((await readCheckpointFile(join(save, "checkpoint_last.safetensors"))).meta.numUpdates).toBe(6);
  }, 120_000);

  it("SIGINT finishes the current update, saves checkpoint_last and exits with a message", async () => {
    const save = mkdtempSync(join(tmpdir(), "fsts-sigint-"));
    let sent = false;
    const r = await run(trainArgs(save, 1000), {}, (line, pid) => {
      if (!sent && /num_updates=3,/.test(line)) {
        sent = true;
        process.kill(pid, "SIGINT");
      }
    });
    expect(sent).toBe(true);
    expect(r.status, r.out).toBe(0);
    expect(r.out).toMatch(/SIGINT: finishing the current update and saving checkpoint_last/);
    const n = (await readCheckpointFile(join(save, "checkpoint_last.safetensors"))).meta.numUpdates;
    expect(n).toBeGreaterThanOrEqual(3);
    expect(n).toBeLessThan(1000);
    expect(r.out).toMatch(new RegExp(`saved checkpoint .*checkpoint_last\\.safetensors \\(epoch 1 @ ${n} updates`));
  }, 120_000);
});
