/**
 * Where the runs of a sweep train (`sgdr compare --jobs N --devices LIST`): each of the N workers
 * at a time gets the next device of the list, round robin. A device is a LibTorch device (cpu,
 * cuda, cuda:N, auto) or a CPU core set, `cpus:0-3` or `cpus:0+2+4`: a worker pinned to those cores
 * (taskset) with as many LibTorch threads. Each run's folder records where it ran (placement.json),
 * and the report lists it.
 */
import * as fs from 'fs';
import * as path from 'path';

export interface Placement {
  /** The LibTorch device the run trains on. */
  device: string;
  /** The cores a pinned worker may use (cpus:LIST). */
  cpus?: number[];
  /** As the user wrote it. */
  label: string;
}

export const PLACEMENT_FILE = 'placement.json';

function coreList(spec: string, entry: string, cores: number): number[] {
  const out = new Set<number>();
  for (const part of spec.split('+')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new RangeError(`--devices: '${entry}' is not a core set like cpus:0-3 or cpus:0+2`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo) throw new RangeError(`--devices: '${entry}': the range ${part} runs backwards`);
    for (let c = lo; c <= hi; c++) {
      if (c >= cores)
        throw new RangeError(`--devices: '${entry}': core ${c} does not exist (this machine has ${cores})`);
      out.add(c);
    }
  }
  return [...out].sort((a, b) => a - b);
}

/** Parses "cuda:0,cuda:1" or "cpus:0-3,cpus:4-7"; every bad entry is named. */
export function parseDevices(list: string, cores: number): Placement[] {
  const entries = list.split(',').map((e) => e.trim());
  if (entries.length === 0 || entries.some((e) => e === ''))
    throw new RangeError(`--devices must be a comma-separated list of devices, got '${list}'`);
  return entries.map((entry) => {
    if (entry.startsWith('cpus:')) return { device: 'cpu', cpus: coreList(entry.slice(5), entry, cores), label: entry };
    if (!/^(auto|cpu|cuda(:\d+)?)$/.test(entry))
      throw new RangeError(`--devices: '${entry}' is not a device (auto, cpu, cuda, cuda:N or cpus:LIST)`);
    return { device: entry, label: entry };
  });
}

/** Records where a run trained, in its folder. */
export function writePlacement(runDir: string, placement: Placement, worker: number): void {
  fs.writeFileSync(path.join(runDir, PLACEMENT_FILE), JSON.stringify({ ...placement, worker }, null, 2) + '\n');
}

/** Where a run trained, when its folder says so. */
export function readPlacement(runDir: string): (Placement & { worker: number }) | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(runDir, PLACEMENT_FILE), 'utf8')) as Placement & { worker: number };
  } catch {
    return undefined;
  }
}
