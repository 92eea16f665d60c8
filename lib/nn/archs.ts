/**
 * The ResNet family, once: every list of architectures (the model factory, configs, the CLI's
 * flags and help, transfer learning, the benchmark's FLOP counts) reads this table. The native side
 * (native/core/resnet.cc) builds the same five, as torchvision defines them.
 */
export interface ResNetArchSpec {
  /** Bottleneck blocks (1x1-3x3-1x1, expansion 4) rather than basic blocks (3x3-3x3). */
  bottleneck: boolean;
  /** Blocks per stage (layer1..layer4). */
  blocks: readonly [number, number, number, number];
  /** The classifier's input features (torchvision's fc.in_features). */
  features: number;
}

export const RESNET_ARCH_SPECS = {
  resnet18: { bottleneck: false, blocks: [2, 2, 2, 2], features: 512 },
  resnet34: { bottleneck: false, blocks: [3, 4, 6, 3], features: 512 },
  resnet50: { bottleneck: true, blocks: [3, 4, 6, 3], features: 2048 },
  resnet101: { bottleneck: true, blocks: [3, 4, 23, 3], features: 2048 },
  resnet152: { bottleneck: true, blocks: [3, 8, 36, 3], features: 2048 },
} as const satisfies Record<string, ResNetArchSpec>;

export type ResNetArch = keyof typeof RESNET_ARCH_SPECS;

export const RESNET_ARCHS = Object.keys(RESNET_ARCH_SPECS) as ResNetArch[];

/** True for the names resnet() builds: narrows a run-time string (a flag, a config) to ResNetArch. */
export function isResNetArch(name: unknown): name is ResNetArch {
  return typeof name === 'string' && Object.prototype.hasOwnProperty.call(RESNET_ARCH_SPECS, name);
}

/** 'resnet18, resnet34, resnet50, resnet101 or resnet152' (or joined by `separator`), for messages and help. */
export function archList(separator?: string): string {
  if (separator !== undefined) return RESNET_ARCHS.join(separator);
  return `${RESNET_ARCHS.slice(0, -1).join(', ')} or ${RESNET_ARCHS[RESNET_ARCHS.length - 1]}`;
}
