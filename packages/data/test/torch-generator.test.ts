import { describe, expect, it } from "vitest";
import { TorchGenerator, poissonSpanProbs, torchFloat32Sum } from "../src/index.js";

// Expectations printed by Debian's PyTorch 1.13.1 (python3-torch, the build fairseq's reference used) on an AVX2 CPU:
//   torch.manual_seed(1); c = torch.distributions.Categorical(torch.FloatTensor(ps))  # ps: DenoisingDataset's, lambda 3.5
//   torch.randperm(10); torch.randperm(300); torch.FloatTensor(7).uniform_(); torch.randint(1, 13785, (6,));
//   torch.empty(5).exponential_(); c.sample((10,)); [c.sample((1,)) for _ in range(20)]
const SEED1 = {
  randperm10: [5, 6, 1, 2, 0, 8, 9, 3, 7, 4],
  randperm300First12: [132, 41, 3, 139, 123, 173, 186, 73, 221, 53, 36, 111],
  uniform7: [0.5953911542892456, 0.9471122622489929, 0.41941946744918823, 0.3743435740470886, 0.02994692325592041, 0.3101946711540222, 0.8278859853744507],
  randint: [12400, 3916, 2398, 624, 12671, 4845],
  exp5: [1.1944767236709595, 0.7453643083572388, 1.0149760246276855, 2.3799164295196533, 0.15822328627109528],
  cat10: [3, 2, 5, 5, 3, 2, 6, 1, 11, 4],
  cat1: [6, 3, 6, 2, 4, 1, 3, 2, 1, 2, 3, 4, 5, 4, 3, 4, 7, 4, 8, 5],
};
// c.probs for lambda 3.5 (float32, normalised by torch's vectorised sum).
const PROBS_35 = [
  0.03019738383591175, 0.1056908443570137, 0.18495897948741913, 0.21578547358512878, 0.1888122856616974, 0.13216860592365265, 0.07709834724664688,
  0.03854917362332344, 0.016865264624357224, 0.006558713968843222, 0.002295549726113677, 0.0007304022437892854, 0.0002130339853465557, 5.7355300668859854e-5,
  1.4338825167214964e-5, 3.345725872350158e-6, 7.318775487874518e-7, 1.5068067682477704e-7, 2.9299020098960682e-8,
];

describe("PyTorch 1.13 CPU generator and samplers", () => {
  it("torch.manual_seed(1): randperm, uniform_, randint, exponential_, Categorical.sample in one stream", () => {
    const g = new TorchGenerator(1);
    const probs = poissonSpanProbs(3.5);
    expect(Array.from(probs)).toEqual(PROBS_35);
    expect(Array.from(g.randperm(10))).toEqual(SEED1.randperm10);
    expect(Array.from(g.randperm(300).subarray(0, 12))).toEqual(SEED1.randperm300First12);
    expect(Array.from(g.uniformFloat32(7))).toEqual(SEED1.uniform7);
    expect(Array.from(g.randint(1, 13785, 6))).toEqual(SEED1.randint);
    expect(Array.from(g.exponentialFloat32(5))).toEqual(SEED1.exp5);
    expect(Array.from(g.multinomialWithReplacement(probs, 10))).toEqual(SEED1.cat10);
    // One draw at a time takes the same path (torch 1.13's argmax fast path is only for draws without replacement).
    expect(Array.from({ length: 20 }, () => g.multinomialWithReplacement(probs, 1)[0])).toEqual(SEED1.cat1);
  });

  it("the engine is MT19937 on the low 32 bits of the seed; the unseeded default is torch's 67280421310721", () => {
    expect(new TorchGenerator(5489).random()).toBe(3499211612);
    expect(new TorchGenerator((1n << 32n) + 5489n).random()).toBe(3499211612);
    expect(new TorchGenerator().random()).toBe(new TorchGenerator(67280421310721n & 0xffffffffn).random());
  });

  it("sums float32 like torch's vectorised kernel (PyTorch's FloatTensor(ps).sum() where a running sum differs)", () => {
    const ps = (lam: number) => {
      const out: number[] = [];
      let lk = 1;
      let kf = 1n;
      for (let k = 0; k < 128; k++) {
        out.push((Math.exp(-lam) * lk) / Number(kf));
        lk *= lam;
        kf *= BigInt(k + 1);
        if (out[out.length - 1]! < 1e-7) break;
      }
      return Float32Array.from(out);
    };
    // (lambda, torch's sum); a left-to-right float32 sum gives 1.0000001192092896, 0.9999999403953552, 1.0, 0.9999999403953552
    expect(torchFloat32Sum(ps(0.2))).toBe(1.0);
    expect(torchFloat32Sum(ps(0.8))).toBe(1.0);
    expect(torchFloat32Sum(ps(0.9))).toBe(0.9999999403953552);
    expect(torchFloat32Sum(ps(1.1))).toBe(0.9999998807907104);
    // 299 elements: four interleaved vector accumulators. torch.FloatTensor(range(1, 300)).div(7).sum()
    expect(torchFloat32Sum(Float32Array.from({ length: 299 }, (_, i) => (i + 1) / 7))).toBe(6407.14306640625);
  });

  it("rejects what it does not reproduce", () => {
    expect(() => new TorchGenerator(-1)).toThrow(/seed/);
    expect(() => new TorchGenerator(1).randint(5, 5, 1)).toThrow(/low < high/);
    expect(() => poissonSpanProbs(0)).toThrow(/poisson-lambda/);
  });
});
