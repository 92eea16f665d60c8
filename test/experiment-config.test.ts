/** Experiment configs: defaults, run configs, and one error naming the key path for every bad config. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  demoConfig,
  ExperimentConfigError,
  lrFindJobOf,
  parseExperimentConfig,
  planRuns,
  readExperimentConfig,
  runConfigFor,
  slugify,
} from '../lib/experiment';
import { SYNTHETIC_CONFIG } from './experiment-helpers';
import { tempDir } from './helpers/native';

const base = () => JSON.parse(JSON.stringify(SYNTHETIC_CONFIG)) as Record<string, any>;
const errorOf = (mutate: (c: Record<string, any>) => void): ExperimentConfigError => {
  const c = base();
  mutate(c);
  try {
    parseExperimentConfig(c, 'x.json');
  } catch (err) {
    expect(err).toBeInstanceOf(ExperimentConfigError);
    expect(err).toBeInstanceOf(TypeError);
    expect((err as Error).message.split('\n')).toHaveLength(1);
    return err as ExperimentConfigError;
  }
  throw new Error('expected the config to be refused');
};

describe('parseExperimentConfig', () => {
  it('fills in labels, accepts "runs" for seeds 0…n−1 and string shorthands', () => {
    const c = base();
    delete c.seeds;
    c.runs = 3;
    c.data = 'fashion-mnist';
    c.model = 'resnet50';
    delete c.schedules[1].label;
    const config = parseExperimentConfig(c);
    expect(config.seeds).toEqual([0, 1, 2]);
    expect(config.data).toEqual({ source: 'fashion-mnist' });
    expect(config.model).toEqual({ arch: 'resnet50' });
    expect(config.schedules[1]!.label).toBe('Step lr=0.05, ×0.1 at 4, 6');
    expect(config.analysis).toEqual({});
  });

  it('names the key path of every kind of mistake', () => {
    const cases: Array<[(c: Record<string, any>) => void, string, RegExp]> = [
      [(c) => (c.epoch = 3), 'epoch', /unknown key/],
      [(c) => (c.data.limitTrian = 5), 'data.limitTrian', /unknown key/],
      [(c) => (c.optimizer.momentun = 0.9), 'optimizer.momentun', /unknown key/],
      [(c) => (c.schedules[0].tmult = 2), 'schedules[0].tmult', /unknown key/],
      [(c) => (c.epochs = '7'), 'epochs', /must be an integer, got string "7"/],
      [(c) => (c.batchSize = 0), 'batchSize', /≥ 1, got 0/],
      [(c) => (c.seeds = []), 'seeds', /empty/],
      [(c) => (c.seeds = [0, 1, 1]), 'seeds[2]', /listed twice/],
      [(c) => (c.seeds = [0, -1]), 'seeds[1]', /≥ 0/],
      [(c) => (c.seeds = 3), 'seeds', /list of integer seeds/],
      [(c) => delete c.seeds, 'seeds', /missing/],
      [(c) => (c.schedules = []), 'schedules', /empty/],
      [(c) => (c.schedules[2].type = 'cosine'), 'schedules[2].type', /unknown schedule string "cosine"/],
      [(c) => delete c.schedules[1].type, 'schedules[1].type', /missing/],
      [(c) => (c.schedules[0].tMult = 0.5), 'schedules[0].tMult', /≥ 1, got 0.5/],
      [(c) => (c.schedules[1].gamma = 2), 'schedules[1].gamma', /\(0, 1\]/],
      [(c) => (c.schedules[1].label = 'SGDR T0=1, Tmult=2'), 'schedules[1].label', /same run folder/],
      [(c) => (c.schedules[0].optimizer = { type: 'rmsprop' }), 'schedules[0].optimizer.type', /sgd, adam, adamw/],
      [(c) => (c.model.arch = 'resnet19'), 'model.arch', /one of resnet18/],
      [(c) => (c.model.reinitLast = 40), 'model.reinitLast', /needs model.initWeights/],
      [(c) => (c.data.augment = 'yes'), 'data.augment', /true or false/],
      [(c) => (c.analysis = { baseline: 'nope' }), 'analysis.baseline', /not the label of a schedule/],
      [(c) => (c.analysis = { bandwidth: 0 }), 'analysis.bandwidth', /> 0/],
      [(c) => (c.optimizer = []), 'optimizer', /must be an object, got an array/],
      [(c) => delete c.data, 'data', /missing/],
    ];
    for (const [mutate, keyPath, detail] of cases) {
      const err = errorOf(mutate);
      expect(err.keyPath, err.message).toBe(keyPath);
      expect(err.message).toMatch(detail);
      expect(err.message.startsWith(`x.json: ${keyPath}: `)).toBe(true);
    }
  });

  it('reads files and names them in errors', () => {
    const dir = tempDir('config');
    fs.writeFileSync(path.join(dir, 'bad.json'), '{"name": ');
    expect(() => readExperimentConfig(path.join(dir, 'bad.json'))).toThrow(/bad\.json: not valid JSON/);
    expect(() => readExperimentConfig(path.join(dir, 'none.json'))).toThrow(
      /none\.json: cannot read the config: ENOENT/,
    );
    fs.writeFileSync(path.join(dir, 'ok.json'), JSON.stringify(SYNTHETIC_CONFIG));
    expect(readExperimentConfig(path.join(dir, 'ok.json')).schedules).toHaveLength(3);
    // Relative data folders are taken from the working directory and stored absolute.
    fs.writeFileSync(path.join(dir, 'rel.json'), JSON.stringify({ ...SYNTHETIC_CONFIG, data: 'cifar10:data/cifar' }));
    expect(readExperimentConfig(path.join(dir, 'rel.json')).data.source).toBe(`cifar10:${path.resolve('data/cifar')}`);
  });
});

describe('runs', () => {
  it('every schedule × seed, seed-major, with the same settings except the schedule and seed', () => {
    const config = parseExperimentConfig(base());
    const runs = planRuns(config, '/tmp/exp');
    expect(runs).toHaveLength(12);
    expect(runs.slice(0, 3).map((r) => [r.seed, r.label])).toEqual([
      [0, 'SGDR T0=1, Tmult=2'],
      [0, 'Step ×0.1 at 4, 6'],
      [0, 'Constant'],
    ]);
    expect(runs[0]!.relDir).toBe(path.join('runs', 'sgdr-t0-1-tmult-2', 'seed-0'));
    expect(runs[4]!.dir).toBe(path.join('/tmp/exp', 'runs', 'step-x0.1-at-4-6', 'seed-1'));
    const a = runConfigFor(config, config.schedules[0]!, 3);
    expect(a).toMatchObject({
      data: 'fashion-mnist',
      arch: 'resnet18',
      stem: 'imagenet',
      epochs: 7,
      batchSize: 64,
      seed: 3,
      limitTrain: 512,
      limitVal: 256,
    });
    expect(a.schedule).toEqual({ type: 'warm-restarts', lr: 0.05, t0: 1, tMult: 2, label: 'SGDR T0=1, Tmult=2' });
  });

  it('a schedule may bring its own optimizer settings', () => {
    const c = base();
    c.schedules[0].optimizer = { type: 'adamw', weightDecay: 0.01 };
    const config = parseExperimentConfig(c);
    expect(runConfigFor(config, config.schedules[0]!, 0).optimizer).toEqual({
      type: 'adamw',
      momentum: 0.9,
      weightDecay: 0.01,
    });
    expect(runConfigFor(config, config.schedules[1]!, 0).optimizer).toEqual({
      type: 'sgd',
      momentum: 0.9,
      weightDecay: 5e-4,
    });
  });

  it('slugs are folder names', () => {
    expect(slugify('SGDR T0=10, Tmult=2')).toBe('sgdr-t0-10-tmult-2');
    expect(slugify('Step lr=0.05 (×0.1)')).toBe('step-lr-0.05-x0.1');
    expect(slugify('...')).toBe('schedule');
  });
});

describe('restarts on plateau and the LR range test in a config', () => {
  it('a plateau-restarts schedule is a schedule like any other; its own keys are checked', () => {
    const c = base();
    c.schedules.push({ label: 'Plateau', type: 'plateau-restarts', lr: 0.05, t0: 7, patience: 2 });
    const config = parseExperimentConfig(c);
    expect(runConfigFor(config, config.schedules[3]!, 1).schedule).toEqual({
      type: 'plateau-restarts',
      lr: 0.05,
      t0: 7,
      patience: 2,
      label: 'Plateau',
    });
    const plateau = (extra: Record<string, unknown>) => (cfg: Record<string, any>) =>
      cfg.schedules.push({ label: 'Plateau', type: 'plateau-restarts', lr: 0.05, t0: 7, ...extra });
    const cases: Array<[(c: Record<string, any>) => void, string, RegExp]> = [
      [plateau({}), 'schedules[3].patience', /integer ≥ 1, got undefined/],
      [plateau({ patience: 0 }), 'schedules[3].patience', /got 0/],
      [plateau({ patience: 1, thresholdMode: 'pct' }), 'schedules[3].thresholdMode', /'rel' or 'abs', got "pct"/],
      [plateau({ patience: 1, threshold: 1 }), 'schedules[3].threshold', /< 1 with thresholdMode 'rel', got 1/],
      [plateau({ patience: 1, warmup: 1 }), 'schedules[3].warmup', /unknown key for a "plateau-restarts" schedule/],
    ];
    for (const [mutate, keyPath, detail] of cases) {
      const err = errorOf(mutate);
      expect(err.keyPath, err.message).toBe(keyPath);
      expect(err.message).toMatch(detail);
    }
  });

  it('"lrFind": true takes the defaults, false none; settings are kept; the sweep is the first seed\'s model', () => {
    const on = parseExperimentConfig({ ...base(), seeds: [4, 5], lrFind: true });
    expect(on.lrFind).toEqual({});
    expect(parseExperimentConfig({ ...base(), lrFind: false }).lrFind).toBeUndefined();
    expect(lrFindJobOf(parseExperimentConfig(base()))).toBeUndefined();
    // The job: the runs' data and model at the first seed, the experiment's optimizer, the sweep's settings.
    expect(lrFindJobOf(on)).toEqual({
      data: 'fashion-mnist',
      arch: 'resnet18',
      stem: 'imagenet',
      batchSize: 64,
      limitTrain: 512,
      limitVal: 256,
      seed: 4,
      optimizer: { type: 'sgd', momentum: 0.9, weightDecay: 5e-4 },
    });
    const set = parseExperimentConfig({
      ...base(),
      lrFind: { iterations: 60, endLr: 1, suggestion: 'minimum', seed: 9, optimizer: { type: 'adamw' } },
    });
    expect(lrFindJobOf(set)).toMatchObject({
      iterations: 60,
      endLr: 1,
      suggestion: 'minimum',
      seed: 9,
      optimizer: { type: 'adamw', momentum: 0.9, weightDecay: 5e-4 },
    });
  });

  it('names the key path of a bad lrFind setting', () => {
    const cases: Array<[unknown, string, RegExp]> = [
      ['yes', 'lrFind', /true, false or an object of LR range test settings, got string "yes"/],
      [[], 'lrFind', /got an array/],
      [{ iteration: 50 }, 'lrFind.iteration', /unknown key \(known here: startLr, endLr, iterations/],
      [{ iterations: 1 }, 'lrFind.iterations', /integer ≥ 2, got 1/],
      [{ iterations: 50.5 }, 'lrFind.iterations', /integer, got 50.5/],
      [{ startLr: 0 }, 'lrFind.startLr', /> 0, got 0/],
      [{ startLr: 1, endLr: 0.5 }, 'lrFind.endLr', /endLr \(0.5\) must be larger than startLr \(1\)/],
      [{ startLr: 20 }, 'lrFind.startLr', /endLr \(10, the default\) must be larger than startLr \(20\)/],
      [{ beta: 1 }, 'lrFind.beta', /\[0, 1\), got 1/],
      [{ divergeFactor: -4 }, 'lrFind.divergeFactor', /> 0, got -4/],
      [{ suggestion: 'valley' }, 'lrFind.suggestion', /one of steepest, minimum, got string "valley"/],
      [{ seed: -1 }, 'lrFind.seed', /≥ 0, got -1/],
      [{ optimizer: { momentun: 0.9 } }, 'lrFind.optimizer.momentun', /unknown key/],
    ];
    for (const [lrFind, keyPath, detail] of cases) {
      const err = errorOf((c) => (c.lrFind = lrFind));
      expect(err.keyPath, err.message).toBe(keyPath);
      expect(err.message).toMatch(detail);
    }
  });
});

describe('shipped configs', () => {
  it('the demo and every examples/*.json and *.yaml parse', () => {
    expect(demoConfig().seeds).toEqual([0, 1, 2]);
    const dir = path.join(__dirname, '..', 'examples');
    const files = fs
      .readdirSync(dir)
      .filter((f) => (f.endsWith('.json') || f.endsWith('.yaml')) && f !== 'figure1.json');
    expect(files.length).toBeGreaterThanOrEqual(4);
    expect(files).toContain('sgdr-vs-step.yaml');
    for (const f of files) {
      const config = readExperimentConfig(path.join(dir, f));
      expect(config.schedules.length, f).toBeGreaterThan(0);
    }
  });

  it('beyond-sgdr.json compares step decay, SGDR + SWA + its snapshot ensemble and restarts on plateau, after an LR range test', () => {
    const config = readExperimentConfig(path.join(__dirname, '..', 'examples', 'beyond-sgdr.json'));
    expect(config.lrFind).toEqual({});
    const types = config.schedules.map((s) => s.type);
    expect(types).toEqual(expect.arrayContaining(['multistep', 'warm-restarts', 'plateau-restarts']));
    expect(config.schedules.some((s) => s.type === 'warm-restarts' && s.swa?.start === 'cycles')).toBe(true);
    expect(config.ensembleSize).toBeGreaterThan(1);
  });

  it("snapshot-ensemble-huang.json is Huang et al.'s setting: M cycles of equal length (T_mult 1) filling the run", () => {
    const config = readExperimentConfig(path.join(__dirname, '..', 'examples', 'snapshot-ensemble-huang.json'));
    const sgdr = config.schedules.filter((s) => s.type === 'warm-restarts');
    expect(sgdr.length).toBeGreaterThan(0);
    for (const s of sgdr) {
      if (s.type !== 'warm-restarts') continue;
      expect(s.tMult ?? 1).toBe(1);
      expect(config.epochs / s.t0).toBe(config.ensembleSize);
    }
  });

  it('the GPU sweep shares (docker/sweeps) parse and split one experiment over disjoint seeds', () => {
    const dir = path.join(__dirname, '..', 'docker', 'sweeps');
    const shares = fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .sort()
      .map((f) => readExperimentConfig(path.join(dir, f)));
    expect(shares.length).toBeGreaterThanOrEqual(2);
    const seeds = shares.flatMap((c) => c.seeds);
    expect(new Set(seeds).size).toBe(seeds.length);
    const { seeds: _s, name: _n, description: _d, ...first } = shares[0];
    for (const c of shares.slice(1)) {
      const { seeds: _s2, name: _n2, description: _d2, ...rest } = c;
      expect(rest).toEqual(first);
    }
  });
});
