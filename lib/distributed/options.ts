/** What joining a c10d process group takes: the contract of ProcessGroup.connect and of the addon's NativeProcessGroup.connect. */

/** How long a rank waits for the others by default, in the rendezvous and in every collective. */
export const DEFAULT_DIST_TIMEOUT_SECONDS = 300;

export interface ProcessGroupOptions {
  rank: number;
  worldSize: number;
  /** Where rank 0 hosts the rendezvous store (torchrun's MASTER_ADDR). */
  masterAddr: string;
  /** Its port (torchrun's MASTER_PORT). */
  masterPort: number;
  /** The rank's index on its machine; with NCCL, the CUDA device it drives (default: rank). */
  localRank?: number;
  /**
   * How long the rendezvous and any collective may wait for the other ranks (default DEFAULT_DIST_TIMEOUT_SECONDS, 300 s). A rank
   * that died is noticed at once (its connections close); one that hangs, after this long. Either
   * way every other rank stops with an error naming it.
   */
  timeoutSeconds?: number;
  /** 'gloo' (CPU tensors, the default) or 'nccl' (CUDA tensors). */
  backend?: 'gloo' | 'nccl';
}
