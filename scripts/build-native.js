#!/usr/bin/env node
'use strict';
/**
 * Builds the native addon with cmake-js into build/Release/sgdr_native.node ($SGDR_BUILD_DIR instead of
 * build/ keeps a second build, e.g. against another LibTorch, beside the first; load it with
 * SGDR_ADDON_PATH=<dir>/Release/sgdr_native.node). `npm install` runs it; `--force` rebuilds.
 * Next to the addon it writes libtorch.json: the locator's description of the LibTorch it was built
 * against, with the Python whose torch matches it (the tests' PyTorch reference).
 * Uses all cores, and ccache when it is on PATH (SGDR_CCACHE=0 turns that off): BENCHMARKS.md has
 * the cold and warm build times.
 *
 * SGDR_PREBUILT_ADDON=/path/to/sgdr_native.node copies an addon built before (with its
 * libtorch.json) instead of compiling: the packed-tarball test uses it so that it does not pay for a
 * 3-minute build on every run. The addon must have been built against the LibTorch of this machine.
 */
const { spawnSync } = require('child_process');
const os = require('os');
const path = require('path');
const fs = require('fs');

const root = path.resolve(__dirname, '..');
const outDir = path.resolve(root, process.env.SGDR_BUILD_DIR || 'build');
const target = path.join(outDir, 'Release/sgdr_native.node');

/**
 * npm 7+ runs a dependency's install script with its stdout and stderr captured, and shows them
 * only if the script fails (or with --foreground-scripts). sharp and node-llama-cpp log with
 * console.log/console.info, which npm 11 hides the same way, so a user of theirs who builds from
 * source also waits in silence. A compile of minutes deserves one line: the controlling terminal
 * (/dev/tty) is not captured, so the line goes there when npm hides our output, and to stderr
 * always (CI logs, --foreground-scripts, yarn and pnpm, which show it).
 */
function announce(line) {
  process.stderr.write(`${line}\n`);
  const hidden = process.env.npm_lifecycle_event === 'install' && process.env.npm_config_foreground_scripts !== 'true';
  if (!hidden || process.env.SGDR_INSTALL_QUIET === '1') return;
  let fd;
  try {
    fd = fs.openSync('/dev/tty', 'w');
    fs.writeSync(fd, `${line}\n`);
  } catch {
    /* no controlling terminal (CI, a daemon): stderr is all there is */
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

function copyPrebuilt(file) {
  const from = path.resolve(file);
  if (!fs.existsSync(from)) {
    process.stderr.write(`libtorch-sgdr: SGDR_PREBUILT_ADDON=${file}: file not found\n`);
    process.exit(1);
  }
  fs.mkdirSync(path.dirname(target), { recursive: true });
  fs.copyFileSync(from, target);
  const record = path.join(path.dirname(from), 'libtorch.json');
  if (fs.existsSync(record)) fs.copyFileSync(record, path.join(path.dirname(target), 'libtorch.json'));
  announce(`libtorch-sgdr: using the prebuilt native addon ${from} (SGDR_PREBUILT_ADDON); nothing compiled`);
}

function build() {
  const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
  const jobs = String(Math.max(1, os.cpus().length));
  // Fail early with the locator's own message listing every way to provide LibTorch.
  const locate = spawnSync(process.execPath, [path.join(__dirname, 'find-libtorch.js'), '--json'], {
    encoding: 'utf8',
  });
  if (locate.status !== 0) {
    process.stderr.write(`libtorch-sgdr: ${locate.stderr}`);
    process.exit(1);
  }
  const torch = JSON.parse(locate.stdout);
  const { summary } = require('./find-libtorch.js');
  const ccache = process.env.SGDR_CCACHE !== '0' ? onPath('ccache') : undefined;
  announce(
    `libtorch-sgdr: compiling the native addon (C++, LibTorch) on ${jobs} core(s); this takes 2-6 minutes` +
      `${ccache ? ' (seconds when ccache has seen it before)' : ''}. Against ${summary(torch)}` +
      (process.env.npm_lifecycle_event === 'install'
        ? '. npm shows the compiler output with --foreground-scripts'
        : ''),
  );

  // cmake-js downloads Node's headers unless told where they are; Node installs ship them in
  // <prefix>/include/node (the same place node-gyp's `nodedir` points at), so use those when present.
  const env = { ...process.env };
  const nodePrefix = path.resolve(path.dirname(process.execPath), '..');
  if (!env.npm_config_nodedir && fs.existsSync(path.join(nodePrefix, 'include/node/node.h')))
    env.npm_config_nodedir = nodePrefix;

  const args = [cmakeJs, 'build', '--out', outDir, '--parallel', jobs];
  if (ccache) args.push(`--CDCMAKE_CXX_COMPILER_LAUNCHER=${ccache}`);
  if (process.argv.includes('--debug')) args.push('--debug');
  const started = Date.now();
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit', env });
  if (r.status !== 0 || !fs.existsSync(target)) {
    process.stderr.write('libtorch-sgdr: native build failed (see the compiler output above)\n');
    process.exit(r.status || 1);
  }
  fs.writeFileSync(path.join(path.dirname(target), 'libtorch.json'), JSON.stringify(torch, null, 2) + '\n');
  announce(`libtorch-sgdr: built ${path.relative(root, target)} in ${Math.round((Date.now() - started) / 1000)} s`);
}

/** The absolute path of an executable on PATH, or undefined. */
function onPath(name) {
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    const file = path.join(dir || '.', name);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return file;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

if (process.env.SGDR_PREBUILT_ADDON) copyPrebuilt(process.env.SGDR_PREBUILT_ADDON);
else build();
