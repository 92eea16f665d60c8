/**
 * sgdr train's data parallelism: `--nproc N` launches N local ranks of the same command
 * (lib/distributed/launch.ts), and a process with torchrun's environment joins its job's c10d
 * process group (--dist-backend, --dist-timeout).
 */
import * as os from 'os';
import { distributedEnv } from '../distributed/env';
import { launchRanks } from '../distributed/launch';
import { ProcessGroup } from '../distributed/process-group';
import type { RunConfig } from '../train/run';
import { flagValue, UsageError, type FlagSpecs, type ParsedFlags } from './args';

/**
 * --nproc N: N local ranks of this same command (lib/distributed/launch.ts). The run folder is fixed
 * here, so every rank writes (rank 0) or reads (resume) the same one; unless --threads is given each
 * rank gets an equal share of the cores.
 */
async function launchTraining(argv: string[], nproc: number, outDir: string, flags: ParsedFlags): Promise<number> {
  const args = [process.argv[1]!, 'train', ...argv];
  if (flags.resume === undefined && flags.out === undefined) args.push('--out', outDir);
  if (flags.threads === undefined) args.push('--threads', String(Math.max(1, Math.floor(os.cpus().length / nproc))));
  process.stderr.write(
    `sgdr: data-parallel on ${nproc} local ranks (c10d, 127.0.0.1; global batch ${nproc} × the per-rank --batch-size); run folder ${outDir}\n`,
  );
  const result = await launchRanks({ nproc, args });
  return result.exitCode;
}

/**
 * Where this process stands: the exit code of a job it launched and waited for (--nproc N here,
 * outside a job), the process group of the job it is a rank of, or undefined for a plain run.
 */
export async function distributedStart(
  argv: string[],
  flags: ParsedFlags,
  specs: FlagSpecs,
  config: RunConfig,
  outDir: string,
): Promise<number | ProcessGroup | undefined> {
  const dist = distributedEnv();
  const nproc = flags.nproc as number | undefined;
  if (nproc !== undefined && (nproc < 1 || nproc > 1024))
    throw new UsageError(`--nproc must be an integer in [1, 1024], got ${String(nproc)}`);
  if (nproc !== undefined && nproc > 1 && !dist) return await launchTraining(argv, nproc, outDir, flags);
  if (!dist) return undefined;
  if (nproc !== undefined && nproc !== dist.worldSize)
    throw new UsageError(`--nproc ${nproc} differs from this job's WORLD_SIZE=${dist.worldSize}`);
  const backend =
    (flags['dist-backend'] as string | undefined) ?? (String(config.device).startsWith('cuda') ? 'nccl' : 'gloo');
  if (backend !== 'gloo' && backend !== 'nccl')
    throw new UsageError(`--dist-backend must be gloo or nccl, got '${backend}'`);
  const timeout = flagValue<number>(flags, specs, 'dist-timeout');
  if (!(timeout > 0)) throw new UsageError(`--dist-timeout must be > 0 seconds, got ${String(timeout)}`);
  // One GPU per rank, as torchrun lays them out.
  if (backend === 'nccl' && String(config.device) === 'cuda') config.device = `cuda:${dist.localRank}`;
  return ProcessGroup.connect({ ...dist, backend, timeoutSeconds: timeout });
}
