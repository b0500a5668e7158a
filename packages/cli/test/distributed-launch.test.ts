import { describe, expect, it } from "vitest";
import { checkMpiPlacement, distributedLaunch } from "../src/distributed-launch.js";

const flags = (o: { distributedWorldSize?: number; distributedBackend?: string; distributedInitMethod?: string | null } = {}) => ({
  distributedWorldSize: 1,
  distributedBackend: "nccl",
  distributedInitMethod: null,
  ...o,
});
const OMPI_4 = { OMPI_COMM_WORLD_RANK: "1", OMPI_COMM_WORLD_SIZE: "4", OMPI_COMM_WORLD_LOCAL_RANK: "1", OMPI_COMM_WORLD_LOCAL_SIZE: "2" };

describe("distributedLaunch: --distributed-backend and the launcher's environment", () => {
  it("a plain command line: one process, or node cluster workers on this machine (whatever fairseq backend name)", () => {
    expect(distributedLaunch(flags(), {})).toEqual({ kind: "single" });
    expect(distributedLaunch(flags({ distributedWorldSize: 2 }), {})).toEqual({ kind: "cluster", worldSize: 2 });
    for (const b of ["cluster", "gloo", "nccl"]) {
      expect(distributedLaunch(flags({ distributedWorldSize: 2, distributedBackend: b }), {})).toEqual({ kind: "cluster", worldSize: 2 });
    }
    expect(distributedLaunch(flags({ distributedInitMethod: "env://" }), {})).toEqual({ kind: "single" });
  });

  it("started by mpirun / mpiexec / srun with several ranks: MPI under fairseq's default (nccl), unless told otherwise", () => {
    expect(distributedLaunch(flags(), OMPI_4)).toMatchObject({ kind: "mpi", placement: { launcher: "openmpi", rank: 1, worldSize: 4, localSize: 2 } });
    expect(distributedLaunch(flags(), { PMI_RANK: "0", PMI_SIZE: "2" })).toMatchObject({ kind: "mpi", placement: { launcher: "mpich" } });
    expect(distributedLaunch(flags(), { SLURM_PROCID: "0", SLURM_NTASKS: "8" })).toMatchObject({ kind: "mpi", placement: { launcher: "slurm" } });
    // one task of an allocation (srun -n1, or a batch script's shell): not a distributed launch
    expect(distributedLaunch(flags({ distributedWorldSize: 2 }), { SLURM_PROCID: "0", SLURM_NTASKS: "1" })).toEqual({ kind: "cluster", worldSize: 2 });
    // --distributed-backend mpi without a launcher: MPI's singleton (world 1)
    expect(distributedLaunch(flags({ distributedBackend: "mpi" }), {})).toEqual({ kind: "mpi", placement: null });
  });

  it("contradictions are errors naming the flag or the launcher", () => {
    expect(() => distributedLaunch(flags({ distributedBackend: "gloo" }), OMPI_4)).toThrow(
      "--distributed-backend gloo: forks node cluster workers on one machine, but mpirun started this process as rank 1 of 4: use --distributed-backend mpi (or leave it out)",
    );
    expect(() => distributedLaunch(flags({ distributedBackend: "tcp" }), {})).toThrow(
      "--distributed-backend tcp: expected mpi (MPI, one or many hosts), gloo or cluster (node cluster workers on one machine), or nccl (fairseq's default: mpi under mpirun/srun, else cluster)",
    );
    expect(() => distributedLaunch(flags(), { RANK: "0", WORLD_SIZE: "2" })).toThrow(
      /a torch-style launcher started this process as rank 0 of 2 .*torchrun's rendezvous is not supported/,
    );
    expect(() => distributedLaunch(flags({ distributedInitMethod: "tcp://10.0.0.1:12345" }), {})).toThrow(
      /--distributed-init-method tcp:\/\/10.0.0.1:12345: fairseq-ts has no rendezvous of its own/,
    );
    expect(() => distributedLaunch(flags({ distributedWorldSize: 0 }), {})).toThrow(/--distributed-world-size must be at least 1, got 0/);
    expect(() => distributedLaunch(flags(), { OMPI_COMM_WORLD_RANK: "one", OMPI_COMM_WORLD_SIZE: "2" })).toThrow(
      `the launcher's environment: OMPI_COMM_WORLD_RANK="one": expected a non-negative integer`,
    );
  });
});

describe("checkMpiPlacement: MPI's world against the flags and the environment", () => {
  const placement = { launcher: "slurm" as const, rank: 3, worldSize: 4, localRank: 1, localSize: 2, hosts: ["n1", "n2"] };
  it("agreeing numbers pass; flags left at their defaults pass", () => {
    expect(() => checkMpiPlacement({ distributedWorldSize: 1, distributedRank: 0 }, placement, { rank: 3, worldSize: 4 })).not.toThrow();
    expect(() => checkMpiPlacement({ distributedWorldSize: 4, distributedRank: 3 }, placement, { rank: 3, worldSize: 4 })).not.toThrow();
    expect(() => checkMpiPlacement({ distributedWorldSize: 1, distributedRank: 0 }, null, { rank: 0, worldSize: 1 })).not.toThrow();
  });
  it("srun without a PMI plugin (MPI singletons), and flags that disagree with MPI, are named", () => {
    expect(() => checkMpiPlacement({ distributedWorldSize: 1, distributedRank: 0 }, placement, { rank: 0, worldSize: 1 })).toThrow(
      "the slurm environment says rank 3 of 4, MPI says rank 0 of 1: MPI started as a singleton; srun needs an MPI plugin (srun --mpi=pmix), or run mpirun inside the allocation",
    );
    expect(() => checkMpiPlacement({ distributedWorldSize: 8, distributedRank: 0 }, null, { rank: 1, worldSize: 4 })).toThrow(
      "--distributed-world-size 8: MPI started 4 ranks",
    );
    expect(() => checkMpiPlacement({ distributedWorldSize: 1, distributedRank: 2 }, null, { rank: 1, worldSize: 4 })).toThrow(
      "--distributed-rank 2: MPI made this process rank 1",
    );
  });
});
