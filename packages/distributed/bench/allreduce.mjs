// allReduce throughput of the cluster transport: N workers, no compute, buffers of the small (9.06M) and
// tiny (1.05M) configs' parameter counts. Median of 10 after 2 warm-up calls. Writes bench-results/distributed.md.
import cluster from "node:cluster";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { joinProcessGroup, runCoordinator } from "../dist/index.js";

const sizes = [
  ["tiny", 1_050_112],
  ["small", 9_060_352],
];
if (cluster.isPrimary) {
  const out = [];
  const lines = [];
  cluster.on("message", (_w, m) => {
    if (m && m.bench) lines.push(m.bench);
  });
  for (const transport of ["coordinator", "sockets", "shm"]) {
    lines.length = 0;
    process.env.FAIRSEQ_TS_TRANSPORT = transport;
    await runCoordinator({ worldSize: 2, exec: fileURLToPath(import.meta.url), args: [] });
    out.push(
      ...lines
        .filter((l) => l.rank === 0)
        .map((l) => ({
          transport: { coordinator: "via coordinator", sockets: "direct Unix sockets", shm: "shared memory (/dev/shm files)" }[transport],
          ...l,
        })),
    );
  }
  const md = [
    "# allReduce of the cluster transport (no compute)",
    "",
    `Measured ${new Date().toISOString().slice(0, 10)}: \`node packages/distributed/bench/allreduce.mjs\`, 2 workers on this 2-core machine,`,
    "float32 gradients + a few float64 stats per call; median of 10 calls after 2 warm-ups.",
    "",
    "| transport | buffer | elements | MB | ms per allReduce | MB/s per worker (sent+received) |",
    "|---|---|---|---|---|---|",
    ...out.map(
      (r) =>
        `| ${r.transport} | ${r.name} | ${r.n} | ${((r.n * 4) / 1e6).toFixed(1)} | ${r.ms.toFixed(1)} | ${((2 * r.n * 4) / 1e6 / (r.ms / 1000)).toFixed(0)} |`,
    ),
    "",
  ].join("\n");
  const root = join(dirname(fileURLToPath(import.meta.url)), "../../..");
  mkdirSync(join(root, "bench-results"), { recursive: true });
  writeFileSync(join(root, "bench-results/distributed.md"), md);
  console.log(md);
} else {
  const pg = joinProcessGroup();
  for (const [name, n] of sizes) {
    const g = new Float32Array(n).fill(pg.rank + 1);
    const st = new Float64Array(8);
    const times = [];
    for (let i = 0; i < 12; i++) {
      const t0 = performance.now();
      await pg.allReduce([g, st]);
      if (i >= 2) times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    process.send({ bench: { rank: pg.rank, name, n, ms: times[Math.floor(times.length / 2)] } });
  }
  await pg.close();
}
