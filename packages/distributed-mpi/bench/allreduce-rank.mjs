// One rank of the allReduce benchmark (started by bench/mpi.mjs through mpirun): float32 buffers of several
// sizes plus the trainer's float64 stats, median of REPEATS calls after 2 warm-ups; rank 0 prints one JSON line.
import { MpiProcessGroup } from "../dist/index.js";

const sizes = JSON.parse(process.env.SIZES);
const repeats = Number(process.env.REPEATS ?? 10);
const pg = MpiProcessGroup.join({ stopSignals: [] });
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rows = [];
for (const n of sizes) {
  const buf = new Float32Array(n).fill(pg.rank + 1);
  const stats = new Float64Array(8);
  const ms = [];
  for (let i = 0; i < repeats + 2; i++) {
    await pg.barrier();
    const t0 = performance.now();
    await pg.allReduce([buf, stats]);
    if (i >= 2) ms.push(performance.now() - t0);
  }
  rows.push({ n, ms: median(ms), min: Math.min(...ms) });
}
if (pg.rank === 0) process.stdout.write(`BENCH ${JSON.stringify({ worldSize: pg.worldSize, library: pg.library, rows })}\n`);
await pg.close();
