/**
 * torchrun's environment: RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT. A process started
 * by torchrun, by `sgdr train --nproc N` or by any launcher that sets these joins the job they
 * describe; each bad value is refused by name.
 */
export interface DistributedEnv {
  rank: number;
  worldSize: number;
  localRank: number;
  masterAddr: string;
  masterPort: number;
}

function intVar(env: NodeJS.ProcessEnv, name: string, lo: number, hi: number, fallback?: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') {
    if (fallback !== undefined) return fallback;
    throw new RangeError(`${name} is not set: a distributed rank needs RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT`);
  }
  const v = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isInteger(v) || v < lo || v > hi)
    throw new RangeError(`${name} must be an integer in [${lo}, ${hi}], got '${raw}'`);
  return v;
}

/** The job this process belongs to, or undefined when WORLD_SIZE is not set (not a distributed run). */
export function distributedEnv(env: NodeJS.ProcessEnv = process.env): DistributedEnv | undefined {
  if (env.WORLD_SIZE === undefined || env.WORLD_SIZE === '') return undefined;
  const worldSize = intVar(env, 'WORLD_SIZE', 1, 65536);
  const rank = intVar(env, 'RANK', 0, worldSize - 1);
  const localRank = intVar(env, 'LOCAL_RANK', 0, 65535, rank);
  const masterAddr = env.MASTER_ADDR ?? '';
  if (!masterAddr) throw new RangeError('MASTER_ADDR is not set: the address of the machine that runs rank 0');
  const masterPort = intVar(env, 'MASTER_PORT', 1, 65535);
  return { rank, worldSize, localRank, masterAddr, masterPort };
}
