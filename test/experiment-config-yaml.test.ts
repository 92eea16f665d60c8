/** YAML experiment configs: the same config as JSON, the same key-path errors, and the line of the key. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ExperimentConfigError, parseExperimentConfig, readExperimentConfig } from '../lib/experiment';
import { SYNTHETIC_CONFIG } from './experiment-helpers';
import { runCommand } from './helpers/cli';
import { tempDir } from './helpers/native';

const base = () => JSON.parse(JSON.stringify(SYNTHETIC_CONFIG)) as Record<string, any>;
const dir = tempDir('yaml-config');

function write(name: string, text: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

function errorOf(file: string): ExperimentConfigError {
  try {
    readExperimentConfig(file);
  } catch (err) {
    expect(err).toBeInstanceOf(ExperimentConfigError);
    expect((err as Error).message.split('\n')).toHaveLength(1);
    return err as ExperimentConfigError;
  }
  throw new Error(`expected ${file} to be refused`);
}

describe('YAML experiment configs', () => {
  it('a YAML config (.yaml and .yml) reads as the same config as its JSON', () => {
    const json = readExperimentConfig(write('c.json', JSON.stringify(SYNTHETIC_CONFIG)));
    expect(readExperimentConfig(write('c.yaml', stringify(SYNTHETIC_CONFIG)))).toEqual(json);
    expect(readExperimentConfig(write('c.yml', stringify(SYNTHETIC_CONFIG)))).toEqual(json);
  });

  it('YAML 1.2: 5e-4 is a number, `no` is a string (so a bad boolean is named, not read as false)', () => {
    const c = base();
    const text = stringify(c).replace('weightDecay: 0.0005', 'weightDecay: 5e-4').replace('augment:', 'augment:');
    expect(readExperimentConfig(write('num.yaml', text)).optimizer.weightDecay).toBe(5e-4);
    const file = write('no.yaml', `${stringify(c)}`.replace('  limitVal: 256\n', '  limitVal: 256\n  augment: no\n'));
    const err = errorOf(file);
    expect(err.message).toBe(`${file}: data.augment (line 6): must be true or false, got string "no"`);
  });

  it('names the key path as for JSON, with the line of the key', () => {
    const cases: Array<[(c: Record<string, any>) => void, string, string]> = [
      [(c) => (c.epoch = 3), 'epoch', 'epoch:'],
      [(c) => (c.data.limitTrian = 5), 'data.limitTrian', 'limitTrian:'],
      [(c) => (c.schedules[0].tmult = 2), 'schedules[0].tmult', 'tmult:'],
      [(c) => (c.epochs = '7'), 'epochs', 'epochs:'],
      [(c) => (c.seeds = [0, 1, 1]), 'seeds[2]', '- 1'],
      [(c) => (c.schedules[2].type = 'cosine'), 'schedules[2].type', 'type: cosine'],
      [(c) => (c.schedules[1].gamma = 2), 'schedules[1].gamma', 'gamma: 2'],
      [(c) => delete c.schedules[1].type, 'schedules[1].type', '- label: Step'],
      [(c) => (c.analysis = { baseline: 'nope' }), 'analysis.baseline', 'baseline: nope'],
    ];
    for (const [mutate, keyPath, lineText] of cases) {
      const c = base();
      mutate(c);
      let jsonError: ExperimentConfigError | undefined;
      try {
        parseExperimentConfig(c, 'x');
      } catch (err) {
        jsonError = err as ExperimentConfigError;
      }
      const text = stringify(c);
      const file = write(`case-${keyPath.replace(/\W/g, '_')}.yaml`, text);
      const err = errorOf(file);
      expect(err.keyPath).toBe(keyPath);
      expect(err.detail).toBe(jsonError!.detail);
      const lines = text.split('\n');
      expect(err.line, `${keyPath}: ${err.message}`).toBeGreaterThan(0);
      expect(lines[err.line! - 1], `${keyPath}: ${err.message}`).toContain(lineText);
      expect(err.message).toBe(`${file}: ${keyPath} (line ${err.line}): ${jsonError!.detail}`);
    }
  });

  it('a missing key points at its parent; syntax errors, duplicate keys and alias bombs give the line', () => {
    const missing = write(
      'missing.yaml',
      'name: x\ndata:\n  limitTrain: 5\nmodel: resnet18\nepochs: 1\nbatchSize: 8\nruns: 1\nschedules: [{type: constant, lr: 0.1}]\n',
    );
    expect(errorOf(missing).message).toBe(
      `${missing}: data.source (line 2): missing (e.g. "fashion-mnist" or "image-folder:DIR")`,
    );
    const syntax = write('syntax.yaml', 'name: x\ndata:\n  source: fashion-mnist\n   limitTrain: 5\n');
    expect(errorOf(syntax).message).toMatch(
      new RegExp(
        `^${syntax.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: line 3: not valid YAML: Nested mappings are not allowed in compact mappings \\(column 11\\)$`,
      ),
    );
    const dup = write('dup.yaml', 'name: x\nepochs: 1\nepochs: 2\n');
    const dupError = errorOf(dup);
    expect(dupError.line).toBe(3);
    expect(dupError.message).toMatch(/not valid YAML: .*unique/i);
    const bomb = [
      'a: &a [x, x, x, x, x, x, x, x, x, x]',
      ...Array.from(
        { length: 8 },
        (_, i) =>
          `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10)
            .fill(`*${String.fromCharCode(97 + i)}`)
            .join(', ')}]`,
      ),
    ].join('\n');
    expect(errorOf(write('bomb.yaml', bomb)).message).toMatch(/not valid YAML: .*alias/i);
  });

  it('sgdr compare --config x.yaml refuses a bad key in one line naming the key path and the line', async () => {
    const c = base();
    c.schedules[0].tmult = 2;
    const file = write('bad.yaml', stringify(c));
    const r = await runCommand(
      process.execPath,
      [path.join(__dirname, '..', 'bin', 'sgdr.js'), 'compare', '--config', file, '--out', path.join(dir, 'out')],
      { cwd: path.join(__dirname, '..'), timeoutMs: 60_000 },
    );
    expect(r.status).toBe(1);
    const line =
      stringify(c)
        .split('\n')
        .findIndex((l) => l.includes('tmult:')) + 1;
    expect(r.stderr.trim()).toBe(
      `sgdr compare: ${file}: schedules[0].tmult (line ${line}): unknown key for a "warm-restarts" schedule`,
    );
  });
});
