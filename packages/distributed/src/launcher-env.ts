/**
 * Where this process sits in a multi-process run, as the launcher that started it says in the environment.
 * A pure function of the environment (tested without launching anything).
 */
export interface LauncherPlacement {
  /** Which launcher's variables were read. */
  launcher: "openmpi" | "mpich" | "slurm" | "torch";
  rank: number;
  worldSize: number;
  /** This process's index among the ranks of its host. */
  localRank: number;
  /** Ranks on this host (null when the launcher does not say). */
  localSize: number | null;
  /** The job's hosts (Slurm's SLURM_JOB_NODELIST / SLURM_NODELIST expanded), null when unknown. */
  hosts: string[] | null;
}

type Env = Readonly<Record<string, string | undefined>>;

/** One launcher's variable names: rank, size, local rank, local size. */
const LAUNCHERS: readonly { launcher: LauncherPlacement["launcher"]; rank: string; size: string; local: string; localSize: string | null }[] = [
  // Open MPI's mpirun (and srun --mpi=pmix with Open MPI)
  {
    launcher: "openmpi",
    rank: "OMPI_COMM_WORLD_RANK",
    size: "OMPI_COMM_WORLD_SIZE",
    local: "OMPI_COMM_WORLD_LOCAL_RANK",
    localSize: "OMPI_COMM_WORLD_LOCAL_SIZE",
  },
  // MPICH / Intel MPI's Hydra (mpiexec)
  { launcher: "mpich", rank: "PMI_RANK", size: "PMI_SIZE", local: "MPI_LOCALRANKID", localSize: "MPI_LOCALNRANKS" },
  // Slurm's srun
  { launcher: "slurm", rank: "SLURM_PROCID", size: "SLURM_NTASKS", local: "SLURM_LOCALID", localSize: null },
  // torchrun / torch.distributed.launch
  { launcher: "torch", rank: "RANK", size: "WORLD_SIZE", local: "LOCAL_RANK", localSize: "LOCAL_WORLD_SIZE" },
];

/** A launcher variable that is set but not a non-negative integer. */
export class LauncherEnvError extends Error {
  override name = "LauncherEnvError";
}

function intVar(env: Env, name: string): number | null {
  const v = env[name];
  if (v === undefined || v.trim() === "") return null;
  if (!/^\s*\d+\s*$/.test(v)) throw new LauncherEnvError(`${name}=${JSON.stringify(v)}: expected a non-negative integer`);
  return Number(v);
}

/**
 * The first launcher (Open MPI, MPICH/Hydra, Slurm, torch-style, in that order) whose rank and world-size
 * variables are both set, or null when none is (a plain command line). An MPI launcher started under Slurm
 * (mpirun inside an allocation) sets both: the MPI launcher's numbers describe the processes it started, so they
 * win. Throws a `LauncherEnvError` naming the variable when one is malformed or the rank is outside the world.
 */
export function launcherPlacement(env: Env): LauncherPlacement | null {
  for (const l of LAUNCHERS) {
    const rank = intVar(env, l.rank);
    const worldSize = intVar(env, l.size);
    if (rank === null || worldSize === null) continue;
    if (worldSize < 1) throw new LauncherEnvError(`${l.size}=${worldSize}: a world has at least one rank`);
    if (rank >= worldSize) throw new LauncherEnvError(`${l.rank}=${rank} is not a rank of a world of ${l.size}=${worldSize}`);
    const localRank = intVar(env, l.local) ?? 0;
    let localSize = l.localSize ? intVar(env, l.localSize) : null;
    let hosts: string[] | null = null;
    const nodeList = env.SLURM_JOB_NODELIST ?? env.SLURM_NODELIST;
    if (l.launcher === "slurm") {
      // SLURM_TASKS_PER_NODE: "2(x3),1" = 2 tasks on each of 3 nodes, then 1; this node is SLURM_NODEID.
      const perNode = env.SLURM_TASKS_PER_NODE;
      const node = intVar(env, "SLURM_NODEID");
      if (perNode && node !== null) localSize = expandTasksPerNode(perNode)[node] ?? null;
      if (nodeList) hosts = expandSlurmNodeList(nodeList);
    }
    if (localSize !== null && localRank >= localSize) throw new LauncherEnvError(`${l.local}=${localRank} is not below the ${localSize} ranks of this host`);
    return { launcher: l.launcher, rank, worldSize, localRank, localSize, hosts };
  }
  return null;
}

/** Slurm's SLURM_TASKS_PER_NODE ("2(x3),1") as one count per node ([2, 2, 2, 1]). */
export function expandTasksPerNode(v: string): number[] {
  const out: number[] = [];
  for (const part of v.split(",")) {
    const m = /^\s*(\d+)(?:\(x(\d+)\))?\s*$/.exec(part);
    if (!m) throw new LauncherEnvError(`SLURM_TASKS_PER_NODE=${JSON.stringify(v)}: cannot read '${part}'`);
    for (let i = 0; i < Number(m[2] ?? 1); i++) out.push(Number(m[1]));
  }
  return out;
}

/**
 * Slurm's compressed host list ("node[01-03,07],gpu-a[1-2]") expanded to host names, as `scontrol show
 * hostnames` prints them: ranges keep their zero padding.
 */
export function expandSlurmNodeList(v: string): string[] {
  const out: string[] = [];
  // split at commas outside brackets
  const items: string[] = [];
  let depth = 0;
  let cur = "";
  for (const ch of v) {
    if (ch === "[") depth++;
    else if (ch === "]") depth--;
    if (depth < 0) throw new LauncherEnvError(`SLURM_NODELIST=${JSON.stringify(v)}: unbalanced ']'`);
    if (ch === "," && depth === 0) {
      items.push(cur);
      cur = "";
    } else cur += ch;
  }
  if (depth !== 0) throw new LauncherEnvError(`SLURM_NODELIST=${JSON.stringify(v)}: unbalanced '['`);
  items.push(cur);
  for (const item of items) {
    if (item.trim() === "") continue;
    let names = [""];
    // each bracket group multiplies the names so far (Slurm allows several: "rack[1-2]-n[1-3]")
    for (const m of item.matchAll(/([^[\]]+)|\[([^\]]*)\]/g)) {
      if (m[1] !== undefined) names = names.map((n) => n + m[1]);
      else {
        const alts: string[] = [];
        for (const r of m[2]!.split(",")) {
          const range = /^(\d+)(?:-(\d+))?$/.exec(r.trim());
          if (!range) throw new LauncherEnvError(`SLURM_NODELIST=${JSON.stringify(v)}: cannot read the range '${r}'`);
          const lo = Number(range[1]);
          const hi = range[2] === undefined ? lo : Number(range[2]);
          if (hi < lo) throw new LauncherEnvError(`SLURM_NODELIST=${JSON.stringify(v)}: the range '${r}' runs backwards`);
          for (let i = lo; i <= hi; i++) alts.push(String(i).padStart(range[1]!.length, "0"));
        }
        names = names.flatMap((n) => alts.map((a) => n + a));
      }
    }
    out.push(...names);
  }
  return out;
}
