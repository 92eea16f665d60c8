/** Data-parallel training on c10d (torch.distributed's engine): process groups, torchrun's environment, the local launcher. */
export { ProcessGroup, initProcessGroup, type ProcessGroupOptions } from './process-group';
export { distributedEnv, type DistributedEnv } from './env';
export { launchRanks, freePort, type LaunchOptions, type LaunchResult } from './launch';
