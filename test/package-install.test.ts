// The package as a user meets it (issue 14): `npm pack`, then `npm install` of the tarball into a
// fresh strict TypeScript project; the README's TS example (examples/readme/train.ts, included in
// README.md verbatim) type-checks against the shipped declarations and runs on a small data set;
// the README's CLI example runs through the installed `sgdr`; a literal 'resnet19' fails to
// compile; the install script's line reaches the terminal although npm hides install output.
//
// Needs the npm registry for the package's dependencies and TypeScript. It installs the addon this
// checkout built (SGDR_PREBUILT_ADDON: the install script copies it instead of compiling for 2-6
// minutes); SGDR_PACKAGE_TEST_BUILD=1 makes the install compile it, the path a user takes.
// SGDR_SKIP_PACKAGE_TEST=1 skips the install (the README checks still run).
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { addonPath } from '../lib/binding';
import { runCommand, type CommandResult } from './helpers/cli';
import { tempDir } from './helpers/native';
import { writeIdxDataset } from './helpers/idx';

const root = path.resolve(__dirname, '..');
const README = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
const TS_EXAMPLE = fs.readFileSync(path.join(root, 'examples/readme/train.ts'), 'utf8');
const skip = process.env.SGDR_SKIP_PACKAGE_TEST === '1';
const realBuild = process.env.SGDR_PACKAGE_TEST_BUILD === '1';
const TYPESCRIPT = 'typescript@^5.9';
// TypeScript 7 (the Go compiler, `tsgo`, still a preview package on npm): opt-in, since it is a dev build.
const ts7 = process.env.SGDR_PACKAGE_TEST_TS7 === '1';

/** The README's ```sh block under `heading`, with its backslash-continued commands joined. */
function shellCommands(heading: string): string[] {
  const at = README.indexOf(`\n## ${heading}\n`);
  expect(at, `README has a "## ${heading}" section`).toBeGreaterThan(0);
  const block = README.slice(at).match(/```sh\n([\s\S]*?)```/)![1]!;
  return block
    .replace(/\\\n\s*/g, '')
    .split('\n')
    .map((l) => l.replace(/\s+#.*$/, '').trim())
    .filter((l) => l && !l.startsWith('#'));
}

/** Replaces `from` (which must occur exactly once: a README that drifts fails here) by `to`. */
function swap(text: string, from: string, to: string): string {
  const count = text.split(from).length - 1;
  expect(count, `'${from}' occurs once in the example`).toBe(1);
  return text.replace(from, to);
}

describe('README examples are the files the tests run', () => {
  it('the TypeScript section is examples/readme/train.ts, verbatim', () => {
    expect(README).toContain('```ts\n' + TS_EXAMPLE + '```\n');
    // The stated accuracy needs augment: false (with augmentation the same run reaches ~77%).
    expect(TS_EXAMPLE).toMatch(/augment: false/);
    // CommonJS projects (the default) cannot use top-level await: the example awaits inside main().
    expect(
      TS_EXAMPLE.split('\n').filter((l) => /^(const|let|var)? ?.*\bawait\b/.test(l) && !l.startsWith(' ')),
    ).toEqual([]);
  });

  it('the command-line section starts with a training run the CLI example test runs', () => {
    expect(shellCommands('Command line')[0]).toMatch(/^npm run sgdr -- train --data fashion-mnist .* --out runs\/a$/);
  });
});

const run = (
  cmd: string,
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv = {},
  timeoutMs = 600_000,
): Promise<CommandResult> =>
  runCommand(cmd, args, { cwd, timeoutMs, env: { ...process.env, SGDR_ADDON_PATH: '', SGDR_QUIET: '1', ...env } });

describe.skipIf(skip)('the packed tarball in a fresh TypeScript project', () => {
  let app: string;
  let data: string;
  let install: CommandResult;
  const timings: Record<string, number> = {};
  const timed = async <T>(name: string, work: () => Promise<T>): Promise<T> => {
    const t0 = Date.now();
    try {
      return await work();
    } finally {
      timings[name] = (Date.now() - t0) / 1000;
    }
  };

  beforeAll(async () => {
    const work = tempDir('package');
    app = path.join(work, 'app');
    fs.mkdirSync(app);
    // --ignore-scripts: the suite built dist/ already (npm test runs tsc first), and prepack's
    // clean rebuild would pull dist/ from under the tests running beside this one.
    const packed = await timed('npm pack', () =>
      run('npm', ['pack', '--ignore-scripts', '--pack-destination', work, '--json'], root),
    );
    expect(packed.status, packed.stderr).toBe(0);
    const tarball = path.join(work, (JSON.parse(packed.stdout) as Array<{ filename: string }>)[0]!.filename);
    fs.writeFileSync(
      path.join(app, 'package.json'),
      JSON.stringify({ name: 'user-app', version: '1.0.0', private: true }, null, 2),
    );
    // A strict CommonJS project whose `types` is [] (TypeScript 7's default): our declarations must
    // bring the Node types they use. skipLibCheck off, so errors inside them count.
    fs.writeFileSync(
      path.join(app, 'tsconfig.json'),
      JSON.stringify(
        {
          compilerOptions: {
            target: 'es2022',
            module: 'commonjs',
            lib: ['es2022'],
            types: [],
            strict: true,
            skipLibCheck: false,
            noUncheckedIndexedAccess: true,
            exactOptionalPropertyTypes: true,
            noEmitOnError: true,
            outDir: 'out',
            rootDir: 'src',
          },
          include: ['src/*.ts'],
        },
        null,
        2,
      ),
    );
    const env = realBuild ? {} : { SGDR_PREBUILT_ADDON: addonPath() };
    // Under a pseudo-terminal (script(1)), as a user's terminal: npm captures install scripts'
    // stdout and stderr, so only what the script writes to /dev/tty shows.
    const npmInstall = `npm install --no-audit --no-fund ${JSON.stringify(tarball)} ${TYPESCRIPT}${ts7 ? ' @typescript/native-preview' : ''}`;
    install = await timed('npm install', () =>
      run('script', ['-qec', npmInstall, '/dev/null'], app, env, realBuild ? 1_500_000 : 600_000),
    );
    expect(install.status, install.stdout + install.stderr).toBe(0);
    data = writeIdxDataset(path.join(work, 'fashion'), 40, 20);
  }, 1_600_000);

  it('installs what a user needs and nothing else', () => {
    const pkg = path.join(app, 'node_modules/libtorch-sgdr');
    expect(fs.existsSync(path.join(pkg, 'LICENSE'))).toBe(true);
    const listing = execFileSync('find', ['.', '-type', 'f', '-not', '-path', './build/*'], {
      cwd: pkg,
      encoding: 'utf8',
    })
      .trim()
      .split('\n');
    expect(listing.filter((f) => f.endsWith('.map'))).toEqual([]);
    expect(listing.filter((f) => /sourceMappingURL/.test(fs.readFileSync(path.join(pkg, f), 'utf8')))).toEqual([]);
    expect(listing.filter((f) => f.startsWith('./scripts/')).sort()).toEqual([
      './scripts/bench_pytorch.py',
      './scripts/build-native.js',
      './scripts/find-libtorch.js',
      './scripts/torchvision_compat.py',
    ]);
    expect(listing.filter((f) => f.startsWith('./lib/') || f.startsWith('./test/'))).toEqual([]);
    expect(fs.existsSync(path.join(pkg, 'build/Release/sgdr_native.node'))).toBe(true);
  });

  it("the install script's line reaches the terminal though npm hides install output", () => {
    const out = install.stdout.replace(/\r/g, '');
    expect(out).toMatch(
      realBuild
        ? /libtorch-sgdr: compiling the native addon \(C\+\+, LibTorch\) on \d+ core\(s\); this takes 2-6 minutes/
        : /libtorch-sgdr: using the prebuilt native addon .* \(SGDR_PREBUILT_ADDON\); nothing compiled/,
    );
  });

  it("the README's TS example type-checks against the shipped declarations and runs", async () => {
    // The example as written, on a small data set and fewer epochs (each swap must match once).
    let example = swap(
      TS_EXAMPLE,
      "openData('fashion-mnist', { limitTrain: 2048, limitVal: 1000,",
      `openData(${JSON.stringify(`fashion-mnist:${data}`)}, {`,
    );
    example = swap(example, 'epochs: 7, batchSize: 64', 'epochs: 2, batchSize: 20');
    fs.mkdirSync(path.join(app, 'src'), { recursive: true });
    fs.writeFileSync(path.join(app, 'src/train.ts'), example);
    const tsc = await timed('tsc', () => run(process.execPath, ['node_modules/typescript/bin/tsc', '-p', '.'], app));
    expect(tsc.stdout + tsc.stderr).toBe('');
    expect(tsc.status).toBe(0);
    if (ts7) {
      const tsgo = await run(path.join(app, 'node_modules/.bin/tsgo'), ['-p', '.', '--noEmit'], app);
      expect(tsgo.stdout + tsgo.stderr).toBe('');
      expect(tsgo.status).toBe(0);
    }
    const r = await timed('node train.js', () => run(process.execPath, ['out/train.js'], app, { SGDR_THREADS: '2' }));
    expect(r.status, r.stderr).toBe(0);
    const epochs = r.stdout.split('\n').filter((l) => /^\d+ [\d.]+ [\d.]+$/.test(l));
    expect(epochs.map((l) => Number(l.split(' ')[0]))).toEqual([1, 2]);
    expect(r.stdout).toMatch(/best epoch \{ epoch: \d, val_loss: [\d.]+ \}/);
    expect(r.stdout).toMatch(/\[ 2, 10 \] Float32Array\(20\)/);
    expect(fs.existsSync(path.join(app, 'runs/ts/best.pth'))).toBe(true);
    // Run again as written: overwrite replaces the previous start's run.
    const again = await run(process.execPath, ['out/train.js'], app, { SGDR_THREADS: '2' });
    expect(again.status, again.stderr).toBe(0);
  }, 600_000);

  it("strict types: 'resnet19' and device 'gpu' fail to compile, and the messages name the valid values", async () => {
    fs.writeFileSync(
      path.join(app, 'src/bad.ts'),
      [
        "import { resnet } from 'libtorch-sgdr';",
        "resnet('resnet19');",
        "resnet('resnet18', { device: 'gpu' });",
        '',
      ].join('\n'),
    );
    try {
      const tsc = await run(process.execPath, ['node_modules/typescript/bin/tsc', '-p', '.', '--noEmit'], app);
      expect(tsc.status).not.toBe(0);
      const errors = tsc.stdout.split('\n').filter((l) => l.includes('error TS'));
      expect(errors).toHaveLength(2);
      expect(errors[0]).toMatch(
        /src\/bad\.ts\(2,8\): error TS2345: Argument of type '"resnet19"' is not assignable to parameter of type '"resnet18" \| "resnet34" \| "resnet50" \| "resnet101" \| "resnet152"'/,
      );
      expect(errors[1]).toMatch(
        /src\/bad\.ts\(3,22\): error TS2322: Type '"gpu"' is not assignable to type 'DeviceSpec/,
      );
    } finally {
      fs.rmSync(path.join(app, 'src/bad.ts'));
    }
  }, 300_000);

  it('the subpaths type-check and load: experiment, plot, serialization, bench; deep imports are closed', async () => {
    fs.writeFileSync(
      path.join(app, 'src/subpaths.ts'),
      [
        "import { readExperimentConfig, runExperiment } from 'libtorch-sgdr/experiment';",
        "import { renderSvg } from 'libtorch-sgdr/plot';",
        "import { orderedDict, readTorchFile } from 'libtorch-sgdr/serialization';",
        "import * as bench from 'libtorch-sgdr/bench';",
        "console.log([readExperimentConfig, runExperiment, renderSvg, orderedDict, readTorchFile].map((f) => typeof f).join(' '), typeof bench);",
        '',
      ].join('\n'),
    );
    try {
      const tsc = await run(process.execPath, ['node_modules/typescript/bin/tsc', '-p', '.'], app);
      expect(tsc.status, tsc.stdout).toBe(0);
      const r = await run(process.execPath, ['out/subpaths.js'], app);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout.trim()).toBe('function function function function function object');
      const deep = await run(process.execPath, ['-e', "require('libtorch-sgdr/dist/index.js')"], app);
      expect(deep.stderr).toMatch(/ERR_PACKAGE_PATH_NOT_EXPORTED/);
    } finally {
      fs.rmSync(path.join(app, 'src/subpaths.ts'), { force: true });
      fs.rmSync(path.join(app, 'out/subpaths.js'), { force: true });
    }
  }, 300_000);

  it("the README's CLI example runs through the installed sgdr; --version", async () => {
    const sgdr = path.join(app, 'node_modules/.bin/sgdr');
    const version = await run(sgdr, ['--version'], app);
    expect(version.stdout.trim()).toBe(
      (JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version,
    );
    let cmd = shellCommands('Command line')[0]!;
    cmd = swap(cmd, '--data fashion-mnist ', `--data fashion-mnist:${data} `);
    cmd = swap(cmd, '--epochs 7', '--epochs 2');
    cmd = swap(cmd, '--limit-train 2048 --limit-val 1000', '--limit-train 40 --limit-val 20 --threads 2');
    const args = cmd.replace(/^npm run sgdr -- /, '').split(/\s+/);
    const r = await timed('sgdr train', () => run(sgdr, args, app));
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/epoch 2\/2 +train_loss/);
    expect(fs.readFileSync(path.join(app, 'runs/a/metrics.jsonl'), 'utf8').trim().split('\n')).toHaveLength(2);
    // The same command again: the folder holds that run, so it is refused, naming both ways on.
    const again = await run(sgdr, args, app);
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(/--out runs\/a holds another run .*--resume runs\/a.*--overwrite/);
  }, 600_000);

  it("without the addon, the message gives the command that works in a user's project", async () => {
    const built = path.join(app, 'node_modules/libtorch-sgdr/build');
    const aside = `${built}-aside`;
    fs.renameSync(built, aside);
    try {
      fs.writeFileSync(path.join(app, 'noaddon.js'), "require('libtorch-sgdr').resnet('resnet18');\n");
      const r = await run(process.execPath, ['noaddon.js'], app);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(
        /the native addon is not built \(.*node_modules\/libtorch-sgdr\/build\/Release\/sgdr_native\.node is missing\); run 'npm rebuild libtorch-sgdr' in your project/,
      );
    } finally {
      fs.renameSync(aside, built);
    }
    console.log(`package-install timings (s): ${JSON.stringify(timings)}`);
  }, 120_000);
});
