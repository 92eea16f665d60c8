/**
 * A c10d process group (LibTorch's own torch.distributed engine: Gloo on CPU, NCCL on CUDA), the
 * handle data-parallel training runs on. Give it to fit({ processGroup }) or trainStep(..., {
 * processGroup }) on every rank of the job.
 */
import { native, type NativeProcessGroup } from '../binding';
import { Tensor } from '../tensor';
import { distributedEnv, type DistributedEnv } from './env';
import { DEFAULT_DIST_TIMEOUT_SECONDS, type ProcessGroupOptions } from './options';

export { DEFAULT_DIST_TIMEOUT_SECONDS, type ProcessGroupOptions } from './options';

export class ProcessGroup {
  private closed = false;
  private constructor(
    /** The addon's handle. */
    readonly native: NativeProcessGroup,
    readonly localRank: number,
  ) {}

  /** Joins the job: resolves once every rank has connected (or rejects, naming what failed). */
  static async connect(options: ProcessGroupOptions): Promise<ProcessGroup> {
    const handle = await native().NativeProcessGroup.connect({
      ...options,
      timeoutSeconds: options.timeoutSeconds ?? DEFAULT_DIST_TIMEOUT_SECONDS,
    });
    return new ProcessGroup(handle, options.localRank ?? options.rank);
  }

  /** The c10d backends this build of the addon has. */
  static backends(): { gloo: boolean; nccl: boolean } {
    return native().NativeProcessGroup.backends();
  }

  get rank(): number {
    return this.native.rank();
  }
  get worldSize(): number {
    return this.native.worldSize();
  }
  get backend(): string {
    return this.native.backend();
  }
  /** Rank 0 writes the run's files; the others only train. */
  get isMain(): boolean {
    return this.rank === 0;
  }

  /** In place: the sum over all ranks. */
  allReduce(tensor: Tensor): Promise<void> {
    return this.native.allReduce(tensor.native);
  }
  /** In place: every rank's tensor becomes root's. */
  broadcast(tensor: Tensor, root = 0): Promise<void> {
    return this.native.broadcast(tensor.native, root);
  }
  barrier(): Promise<void> {
    return this.native.barrier();
  }

  /**
   * Ends this rank's part: a barrier (so no rank leaves while another still reduces), then the
   * group is released. Rank 0 hosts the store, so it leaves last: the others leave first.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.native.barrier();
    this.native.markFinished();
    this.closed = true;
    this.native.close();
  }
}

/**
 * The process group of torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR,
 * MASTER_PORT), or undefined when this process is not part of a distributed job.
 */
export async function initProcessGroup(
  options: Partial<Pick<ProcessGroupOptions, 'timeoutSeconds' | 'backend'>> & { env?: NodeJS.ProcessEnv } = {},
): Promise<ProcessGroup | undefined> {
  const env: DistributedEnv | undefined = distributedEnv(options.env);
  if (!env) return undefined;
  return ProcessGroup.connect({ ...env, timeoutSeconds: options.timeoutSeconds, backend: options.backend });
}
