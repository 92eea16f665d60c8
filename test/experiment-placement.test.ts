/** sgdr compare --devices: the list parsed entry by entry, each bad entry named. */
import { describe, expect, it } from 'vitest';
import { parseDevices } from '../lib/experiment/placement';

describe('--devices', () => {
  it('takes LibTorch devices and CPU core sets', () => {
    expect(parseDevices('cuda:0,cuda:1', 8)).toEqual([
      { device: 'cuda:0', label: 'cuda:0' },
      { device: 'cuda:1', label: 'cuda:1' },
    ]);
    expect(parseDevices('cpus:0-1, cpus:2+3', 4)).toEqual([
      { device: 'cpu', cpus: [0, 1], label: 'cpus:0-1' },
      { device: 'cpu', cpus: [2, 3], label: 'cpus:2+3' },
    ]);
    expect(parseDevices('cpu,auto', 2).map((p) => p.device)).toEqual(['cpu', 'auto']);
  });

  it('names what is wrong', () => {
    expect(() => parseDevices('gpu0', 2)).toThrow(/'gpu0' is not a device/);
    expect(() => parseDevices('cpus:0-5', 2)).toThrow(/core 2 does not exist \(this machine has 2\)/);
    expect(() => parseDevices('cpus:3-1', 8)).toThrow(/runs backwards/);
    expect(() => parseDevices('cpus:a', 8)).toThrow(/not a core set/);
    expect(() => parseDevices('cuda:0,,cuda:1', 8)).toThrow(/comma-separated list/);
  });
});
