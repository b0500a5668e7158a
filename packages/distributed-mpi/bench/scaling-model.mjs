// docs/distributed.md's scaling model: words/s of N hosts, one MPI rank each, from a host's measured training speed
// and the MPI transport's cost per update. Prints the table; the inputs are explained in docs/distributed.md.
//
//   t_update(N) = W / r1  +  2 · [ (N-1)/N · 4P / B  +  (N-1) · m  +  a ]  +  s · P
//   words/s(N)  = N · W / t_update(N)
//
// W: target words per update per rank; r1: words/s of one host alone; P: parameters (float32 gradients);
// B: a host's effective link bandwidth (bytes/s, each direction); m: per-message cost on the sending/receiving host;
// a: one network latency; s: the host-side cost per parameter (staging copies + the rank-order sum), per update.
const W = 3616; // wpb of --max-tokens 4096 on Multi30k (README: epoch-14 wpb 3616.4)
const configs = [
  // r1: words/s of one process using this machine's 2 cores (README's performance table; base: estimated, see docs)
  { name: "tiny (2+2, d64)", P: 1_050_112, r1: 16_403 },
  { name: "small (3+3, d256)", P: 9_060_352, r1: 2_536 },
  { name: "transformer-base (6+6, d512)", P: 51_200_000, r1: 380 },
];
const links = [
  { name: "10 Gbit/s", B: 1.1e9 },
  { name: "100 Gbit/s", B: 10e9 },
];
const m = 5e-6;
const a = 50e-6;
const s = 3.8e-9;
const rows = [];
for (const c of configs) {
  for (const l of links) {
    const cells = [1, 2, 8, 32].map((N) => {
      const comm = N === 1 ? 0 : 2 * (((N - 1) / N) * ((4 * c.P) / l.B) + (N - 1) * m + a) + s * c.P;
      const t = W / c.r1 + comm;
      return { N, wps: (N * W) / t, eff: W / c.r1 / t };
    });
    rows.push(`| ${c.name} | ${l.name} | ${cells.map((x) => `${Math.round(x.wps).toLocaleString("en-US")} (${(x.eff * 100).toFixed(0)}%)`).join(" | ")} |`);
  }
}
console.log(["| config | link | 1 host | 2 hosts | 8 hosts | 32 hosts |", "|---|---|---|---|---|---|", ...rows].join("\n"));
