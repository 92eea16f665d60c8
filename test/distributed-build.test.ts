/**
 * What this build of the addon has for data parallelism, and the proof behind building Gloo
 * against headers that are not the LibTorch's own (native/distributed/gloo_backend.cc): the addon
 * must reference no symbol of Gloo itself, only c10d's, since the PyTorch wheel exports none.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ProcessGroup } from '../lib';

const addon = process.env.SGDR_ADDON_PATH
  ? path.resolve(process.env.SGDR_ADDON_PATH)
  : path.join(__dirname, '..', 'build', 'Release', 'sgdr_native.node');
const compiledWithGloo = () => {
  const defines = execFileSync(
    process.execPath,
    [path.join(__dirname, '..', 'scripts', 'find-libtorch.js'), '--c10d-defines'],
    {
      encoding: 'utf8',
      env: process.env,
    },
  );
  return defines.includes('SGDR_WITH_GLOO');
};

describe('the distributed layer of this build', () => {
  it('has the Gloo backend when Gloo was found at build time', () => {
    // CI's set-up installs libgloo-dev, so there it must be found.
    if (process.env.CI) expect(compiledWithGloo()).toBe(true);
    expect(ProcessGroup.backends().gloo).toBe(compiledWithGloo());
  });

  it("references no Gloo symbol, only c10d's (sound against a LibTorch that links its own Gloo)", () => {
    expect(fs.existsSync(addon)).toBe(true);
    const undefinedSymbols = execFileSync('nm', ['-D', '-C', '--undefined-only', addon], {
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    })
      .split('\n')
      .map((l) => l.trim().replace(/^U\s+/, ''));
    const c10dGloo = undefinedSymbols.filter((s) => s.startsWith('c10d::ProcessGroupGloo'));
    const glooOwn = undefinedSymbols.filter((s) => /(^|[^:\w])gloo::/.test(s) && !s.startsWith('c10d::'));
    if (ProcessGroup.backends().gloo) expect(c10dGloo.length).toBeGreaterThan(0);
    expect(glooOwn).toEqual([]);
  });
});
