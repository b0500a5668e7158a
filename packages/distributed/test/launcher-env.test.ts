import { describe, expect, it } from "vitest";
import { expandSlurmNodeList, expandTasksPerNode, launcherPlacement, LauncherEnvError } from "../src/index.js";

describe("launcherPlacement: rank discovery from the launcher's environment", () => {
  it("a plain command line has no placement", () => {
    expect(launcherPlacement({ PATH: "/usr/bin", HOME: "/root" })).toBeNull();
    // a rank without a world size is not a launch (e.g. a stray RANK in the shell)
    expect(launcherPlacement({ RANK: "3" })).toBeNull();
  });

  it("Open MPI's mpirun (as `mpirun -np 4` on 2 hosts sets it for rank 3)", () => {
    const env = { OMPI_COMM_WORLD_RANK: "3", OMPI_COMM_WORLD_SIZE: "4", OMPI_COMM_WORLD_LOCAL_RANK: "1", OMPI_COMM_WORLD_LOCAL_SIZE: "2" };
    expect(launcherPlacement(env)).toEqual({ launcher: "openmpi", rank: 3, worldSize: 4, localRank: 1, localSize: 2, hosts: null });
  });

  it("MPICH / Hydra's mpiexec", () => {
    const env = { PMI_RANK: "5", PMI_SIZE: "8", MPI_LOCALRANKID: "1", MPI_LOCALNRANKS: "4" };
    expect(launcherPlacement(env)).toEqual({ launcher: "mpich", rank: 5, worldSize: 8, localRank: 1, localSize: 4, hosts: null });
  });

  it("Slurm's srun: local size from SLURM_TASKS_PER_NODE at SLURM_NODEID, the node list expanded", () => {
    const env = {
      SLURM_PROCID: "6",
      SLURM_NTASKS: "7",
      SLURM_LOCALID: "0",
      SLURM_NODEID: "3",
      SLURM_TASKS_PER_NODE: "2(x3),1",
      SLURM_JOB_NODELIST: "node[01-03],gpu7",
    };
    expect(launcherPlacement(env)).toEqual({
      launcher: "slurm",
      rank: 6,
      worldSize: 7,
      localRank: 0,
      localSize: 1,
      hosts: ["node01", "node02", "node03", "gpu7"],
    });
  });

  it("torchrun's RANK / WORLD_SIZE / LOCAL_RANK / LOCAL_WORLD_SIZE", () => {
    expect(launcherPlacement({ RANK: "1", WORLD_SIZE: "2", LOCAL_RANK: "1", LOCAL_WORLD_SIZE: "2" })).toEqual({
      launcher: "torch",
      rank: 1,
      worldSize: 2,
      localRank: 1,
      localSize: 2,
      hosts: null,
    });
    // no local variables: local rank 0, local size unknown
    expect(launcherPlacement({ RANK: "0", WORLD_SIZE: "1" })).toMatchObject({ localRank: 0, localSize: null });
  });

  it("mpirun inside a Slurm allocation: the MPI launcher's numbers win (they describe the processes it started)", () => {
    const env = {
      SLURM_PROCID: "0",
      SLURM_NTASKS: "1",
      SLURM_LOCALID: "0",
      OMPI_COMM_WORLD_RANK: "2",
      OMPI_COMM_WORLD_SIZE: "4",
      OMPI_COMM_WORLD_LOCAL_RANK: "0",
    };
    expect(launcherPlacement(env)).toMatchObject({ launcher: "openmpi", rank: 2, worldSize: 4 });
  });

  it("malformed or inconsistent values are errors naming the variable", () => {
    expect(() => launcherPlacement({ OMPI_COMM_WORLD_RANK: "x", OMPI_COMM_WORLD_SIZE: "2" })).toThrow(
      /OMPI_COMM_WORLD_RANK="x": expected a non-negative integer/,
    );
    expect(() => launcherPlacement({ PMI_RANK: "4", PMI_SIZE: "4" })).toThrow(/PMI_RANK=4 is not a rank of a world of PMI_SIZE=4/);
    expect(() => launcherPlacement({ RANK: "0", WORLD_SIZE: "0" })).toThrow(/WORLD_SIZE=0/);
    expect(() => launcherPlacement({ RANK: "-1", WORLD_SIZE: "2" })).toThrow(LauncherEnvError);
    expect(() => launcherPlacement({ RANK: "0", WORLD_SIZE: "2", LOCAL_RANK: "2", LOCAL_WORLD_SIZE: "2" })).toThrow(/LOCAL_RANK=2 is not below the 2 ranks/);
  });
});

describe("Slurm's compressed lists", () => {
  it("SLURM_TASKS_PER_NODE", () => {
    expect(expandTasksPerNode("2(x3),1")).toEqual([2, 2, 2, 1]);
    expect(expandTasksPerNode("4")).toEqual([4]);
    expect(() => expandTasksPerNode("2(3)")).toThrow(/cannot read '2\(3\)'/);
  });

  it("node lists as `scontrol show hostnames` prints them (padding kept, several brackets, several items)", () => {
    expect(expandSlurmNodeList("node[01-03,07]")).toEqual(["node01", "node02", "node03", "node07"]);
    expect(expandSlurmNodeList("a1,b[9-11]")).toEqual(["a1", "b9", "b10", "b11"]);
    expect(expandSlurmNodeList("rack[1-2]-n[1,3]")).toEqual(["rack1-n1", "rack1-n3", "rack2-n1", "rack2-n3"]);
    expect(expandSlurmNodeList("n[008-010]")).toEqual(["n008", "n009", "n010"]);
    expect(() => expandSlurmNodeList("n[1-2")).toThrow(/unbalanced '\['/);
    expect(() => expandSlurmNodeList("n[3-1]")).toThrow(/runs backwards/);
    expect(() => expandSlurmNodeList("n[a]")).toThrow(/cannot read the range 'a'/);
  });
});
