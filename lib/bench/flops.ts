/**
 * Multiply-accumulate counts of torchvision's ResNets, for the compute floor of the benchmark.
 *
 * Nominal count (the convention of fvcore/thop and of the issue): every kernel tap of every output
 * position, padding included, plus the classifier; BatchNorm, ReLU, pooling and the additions are
 * left out (they are memory-bound and a few percent of the arithmetic). Training costs 3x the forward
 * product (forward, gradient of the input, gradient of the weights) and 2 FLOP per multiply-add.
 * The effective count leaves out the taps that only ever meet zero padding (large on small images:
 * ResNet's last stage on a 32 px input is a 3x3 convolution of a 1x1 map, 1 tap of 9).
 */
import { RESNET_ARCH_SPECS, type ResNetArchSpec } from '../nn/archs';

export interface ConvShape {
  cin: number;
  cout: number;
  k: number;
  stride: number;
  pad: number;
  /** Input height/width (square). */
  size: number;
}

export interface FlopCount {
  /** Forward multiply-adds per image, all taps. */
  forwardMacs: number;
  /** Forward multiply-adds per image, taps that meet the input only. */
  effectiveForwardMacs: number;
  /** Training FLOP per image: 2 x 3 x forwardMacs. */
  trainFlops: number;
  effectiveTrainFlops: number;
  /** Inference FLOP per image: 2 x forwardMacs. */
  evalFlops: number;
}

const ARCHS: Record<string, ResNetArchSpec | undefined> = RESNET_ARCH_SPECS;

function outSize(c: ConvShape): number {
  return Math.floor((c.size + 2 * c.pad - c.k) / c.stride) + 1;
}

/** Kernel taps along one axis that meet the input, summed over the output positions. */
function validTaps1d(size: number, k: number, stride: number, pad: number): number {
  const out = Math.floor((size + 2 * pad - k) / stride) + 1;
  let taps = 0;
  for (let o = 0; o < out; o++)
    for (let t = 0; t < k; t++) {
      const i = o * stride - pad + t;
      if (i >= 0 && i < size) taps++;
    }
  return taps;
}

export function convMacs(c: ConvShape): { all: number; effective: number } {
  const o = outSize(c);
  const all = c.cin * c.cout * c.k * c.k * o * o;
  const t = validTaps1d(c.size, c.k, c.stride, c.pad);
  return { all, effective: c.cin * c.cout * t * t };
}

/** The convolutions of a ResNet in forward order, for an input of `size` px. */
export function resnetConvs(
  arch: string,
  size: number,
  inChannels = 3,
  stem: 'imagenet' | 'cifar' = 'imagenet',
): ConvShape[] {
  const spec = ARCHS[arch];
  if (!spec) throw new RangeError(`unknown arch '${arch}'`);
  const convs: ConvShape[] = [];
  const add = (c: ConvShape): number => {
    convs.push(c);
    return outSize(c);
  };
  let s =
    stem === 'cifar'
      ? add({ cin: inChannels, cout: 64, k: 3, stride: 1, pad: 1, size })
      : add({ cin: inChannels, cout: 64, k: 7, stride: 2, pad: 3, size });
  if (stem === 'imagenet') s = Math.floor((s + 2 - 3) / 2) + 1; // max-pool 3x3/2, padding 1
  const expansion = spec.bottleneck ? 4 : 1;
  let inplanes = 64;
  spec.blocks.forEach((blocks, stage) => {
    const planes = 64 << stage;
    for (let b = 0; b < blocks; b++) {
      const stride = b === 0 && stage > 0 ? 2 : 1;
      const input = s;
      if (spec.bottleneck) {
        add({ cin: inplanes, cout: planes, k: 1, stride: 1, pad: 0, size: input });
        const mid = add({ cin: planes, cout: planes, k: 3, stride, pad: 1, size: input });
        s = add({ cin: planes, cout: planes * 4, k: 1, stride: 1, pad: 0, size: mid });
      } else {
        const mid = add({ cin: inplanes, cout: planes, k: 3, stride, pad: 1, size: input });
        s = add({ cin: planes, cout: planes, k: 3, stride: 1, pad: 1, size: mid });
      }
      if (b === 0 && (stride !== 1 || inplanes !== planes * expansion))
        add({ cin: inplanes, cout: planes * expansion, k: 1, stride, pad: 0, size: input });
      inplanes = planes * expansion;
    }
  });
  return convs;
}

export function resnetFlops(
  arch: string,
  size: number,
  numClasses: number,
  inChannels = 3,
  stem: 'imagenet' | 'cifar' = 'imagenet',
): FlopCount {
  const spec = ARCHS[arch]!;
  const fc = 512 * (spec ? (spec.bottleneck ? 4 : 1) : 1) * numClasses;
  let all = fc,
    effective = fc;
  for (const c of resnetConvs(arch, size, inChannels, stem)) {
    const m = convMacs(c);
    all += m.all;
    effective += m.effective;
  }
  return {
    forwardMacs: all,
    effectiveForwardMacs: effective,
    trainFlops: 6 * all,
    effectiveTrainFlops: 6 * effective,
    evalFlops: 2 * all,
  };
}
