/**
 * How `train` takes part in a distributed run: as one process, as the node cluster coordinator or one of its
 * workers (one machine), or as an MPI rank started by mpirun/srun (one or many hosts). Decided from the
 * `distributed_training` flags and the launcher's environment, before anything heavy loads.
 */
import { launcherPlacement, LauncherEnvError, type LauncherPlacement } from "@fairseq-ts/distributed";
import type { DistributedOptions } from "./options.js";

export type DistributedLaunch = { kind: "single" } | { kind: "cluster"; worldSize: number } | { kind: "mpi"; placement: LauncherPlacement | null };

/**
 * `--distributed-backend` and the environment → the launch. Throws an error naming the flag or variable when they
 * disagree (e.g. `--distributed-backend gloo` in a process mpirun started as one of 4 ranks).
 */
export function distributedLaunch(
  o: Pick<DistributedOptions, "distributedWorldSize" | "distributedBackend" | "distributedInitMethod">,
  env: NodeJS.ProcessEnv,
): DistributedLaunch {
  if (o.distributedWorldSize < 1) throw new Error(`--distributed-world-size must be at least 1, got ${o.distributedWorldSize}`);
  const init = o.distributedInitMethod;
  if (init !== null && init !== "env://") {
    throw new Error(
      `--distributed-init-method ${init}: fairseq-ts has no rendezvous of its own; ranks come from the launcher's environment (env://): start them with mpirun or srun --mpi=pmix (--distributed-backend mpi)`,
    );
  }
  let placement: LauncherPlacement | null;
  try {
    placement = launcherPlacement(env);
  } catch (e) {
    if (e instanceof LauncherEnvError) throw new Error(`the launcher's environment: ${e.message}`);
    throw e;
  }
  const launched = placement !== null && placement.worldSize > 1 ? placement : null;
  const where = (p: LauncherPlacement) =>
    `${p.launcher === "slurm" ? "srun" : p.launcher === "torch" ? "a torch-style launcher" : "mpirun"} started this process as rank ${p.rank} of ${p.worldSize}`;
  const backend = o.distributedBackend;
  if (!["mpi", "nccl", "gloo", "cluster"].includes(backend)) {
    throw new Error(
      `--distributed-backend ${backend}: expected mpi (MPI, one or many hosts), gloo or cluster (node cluster workers on one machine), or nccl (fairseq's default: mpi under mpirun/srun, else cluster)`,
    );
  }
  if (backend === "mpi") return { kind: "mpi", placement };
  // nccl is fairseq's default (CUDA's library): here it means "whatever the launch is"
  if (backend === "nccl" && launched && launched.launcher !== "torch") return { kind: "mpi", placement: launched };
  if (launched) {
    // torchrun's rendezvous (MASTER_ADDR/PORT) is torch.distributed's; MPI cannot join it
    throw new Error(
      launched.launcher === "torch"
        ? `${where(launched)} (RANK/WORLD_SIZE): fairseq-ts runs across processes on node cluster (one machine: --distributed-world-size N from one process) or on MPI (mpirun -np N, srun --mpi=pmix); torchrun's rendezvous is not supported`
        : `--distributed-backend ${backend}: forks node cluster workers on one machine, but ${where(launched)}: use --distributed-backend mpi (or leave it out)`,
    );
  }
  return o.distributedWorldSize > 1 ? { kind: "cluster", worldSize: o.distributedWorldSize } : { kind: "single" };
}

/**
 * Checks an MPI rank against the flags and the launcher's environment: a world size or rank given on the command
 * line, or announced by the launcher, must be MPI's (srun without a PMI plugin starts singletons of world 1).
 */
export function checkMpiPlacement(
  o: Pick<DistributedOptions, "distributedWorldSize" | "distributedRank">,
  placement: LauncherPlacement | null,
  mpi: { rank: number; worldSize: number },
): void {
  if (placement && (placement.worldSize !== mpi.worldSize || placement.rank !== mpi.rank)) {
    const hint =
      mpi.worldSize === 1
        ? placement.launcher === "slurm"
          ? ": MPI started as a singleton; srun needs an MPI plugin (srun --mpi=pmix), or run mpirun inside the allocation"
          : ": MPI started as a singleton; start the ranks with mpirun"
        : "";
    throw new Error(
      `the ${placement.launcher} environment says rank ${placement.rank} of ${placement.worldSize}, MPI says rank ${mpi.rank} of ${mpi.worldSize}${hint}`,
    );
  }
  if (o.distributedWorldSize !== 1 && o.distributedWorldSize !== mpi.worldSize) {
    throw new Error(
      `--distributed-world-size ${o.distributedWorldSize}: MPI started ${mpi.worldSize} ranks (leave the flag out, or give the launcher's number)`,
    );
  }
  if (o.distributedRank !== 0 && o.distributedRank !== mpi.rank) {
    throw new Error(`--distributed-rank ${o.distributedRank}: MPI made this process rank ${mpi.rank} (leave the flag out)`);
  }
}
