// Matmul GFLOP/s: tfjs wasm kernel vs the native OpenBLAS kernel (1 and 2 threads), medians of repeats.
// Writes bench-results/kernels.md at the repository root.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "@fairseq-ts/backend";
import { registerNativeKernels } from "@fairseq-ts/kernels-native";

const root = join(dirname(fileURLToPath(import.meta.url)), "../../..");
const shapes = [
  ["square 256", [256, 256], [256, 256], false, false],
  ["square 512", [512, 512], [512, 512], false, false],
  ["square 1024", [1024, 1024], [1024, 1024], false, false],
  ["ffn fwd 4096x256 · 256x1024", [4096, 256], [256, 1024], false, false],
  ["ffn grad 4096x1024 · (256x1024)ᵀ", [4096, 1024], [256, 1024], false, true],
  ["weight grad (4096x256)ᵀ · 4096x1024", [4096, 256], [4096, 1024], true, false],
  ["attention 64 heads·b 48x48x64", [256, 48, 64], [256, 64, 48], false, false],
];

function gflops([, sa, sb, ta, tb]) {
  const a = tf.randomNormal(sa);
  const b = tf.randomNormal(sb);
  const m = ta ? sa.at(-1) : sa.at(-2);
  const k = ta ? sa.at(-2) : sa.at(-1);
  const n = tb ? sb.at(-2) : sb.at(-1);
  const batch = sa.length === 3 ? sa[0] : 1;
  const flop = 2 * batch * m * n * k;
  tf.matMul(a, b, ta, tb).dispose();
  const times = [];
  for (let r = 0; r < 7; r++) {
    const t0 = performance.now();
    const c = tf.matMul(a, b, ta, tb);
    c.dataSync();
    times.push(performance.now() - t0);
    c.dispose();
  }
  tf.dispose([a, b]);
  times.sort((x, y) => x - y);
  return flop / (times[3] / 1000) / 1e9;
}

await initBackend({ backend: "wasm", log: null });
const rows = shapes.map((s) => ({ name: s[0], wasm: gflops(s) }));
for (const threads of [1, 2]) {
  const info = await registerNativeKernels("wasm", { threads });
  if (!info.active) {
    console.log(`native kernels unavailable: ${info.reason}`);
    break;
  }
  shapes.forEach((s, i) => (rows[i][`native${threads}`] = gflops(s)));
}
const f = (x) => (x === undefined ? "—" : x.toFixed(1));
const lines = [
  "# Matmul kernels (GFLOP/s, median of 7)",
  "",
  `Measured ${new Date().toISOString().slice(0, 10)} on this 2-core machine with \`pnpm --filter @fairseq-ts/backend bench\`.`,
  "wasm = tfjs-backend-wasm 4.22 (SIMD, 1 thread, with the explicit-transpose fix); native = OpenBLAS sgemm on the wasm heap.",
  "For scale: PyTorch + OpenBLAS 1024² on this machine ≈ 143 GFLOP/s (2 threads), 94 (1 thread) (reference timings.md).",
  "",
  "| shape | wasm | native 1 thread | native 2 threads |",
  "|---|---|---|---|",
  ...rows.map((r) => `| ${r.name} | ${f(r.wasm)} | ${f(r.native1)} | ${f(r.native2)} |`),
  "",
];
mkdirSync(join(root, "bench-results"), { recursive: true });
writeFileSync(join(root, "bench-results", "kernels.md"), lines.join("\n"));
console.log(lines.join("\n"));
