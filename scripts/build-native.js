#!/usr/bin/env node
'use strict';
/**
 * Builds the native addon with cmake-js into build/Release/sgdr_native.node ($SGDR_BUILD_DIR instead of
 * build/ keeps a second build, e.g. against another LibTorch, beside the first; load it with
 * SGDR_ADDON_PATH=<dir>/Release/sgdr_native.node). `npm install` runs it; `--force` rebuilds.
 * Next to the addon it writes libtorch.json: the locator's description of the LibTorch it was built
 * against, with the Python whose torch matches it (the tests' PyTorch reference).
 * Uses all cores (the build is a handful of LibTorch translation units, ~20 s each).
 */
const { spawnSync } = require('child_process');
const os = require('os');
const path = require('path');
const fs = require('fs');

const root = path.resolve(__dirname, '..');
const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
const jobs = String(Math.max(1, os.cpus().length));

// Fail early with the locator's own message listing every way to provide LibTorch.
const locate = spawnSync(process.execPath, [path.join(__dirname, 'find-libtorch.js'), '--json'], { encoding: 'utf8' });
if (locate.status !== 0) {
  process.stderr.write(`libtorch-sgdr: ${locate.stderr}`);
  process.exit(1);
}
const torch = JSON.parse(locate.stdout);
const { summary } = require('./find-libtorch.js');
console.log(`libtorch-sgdr: building the native addon against ${summary(torch)}`);

// cmake-js downloads Node's headers unless told where they are; Node installs ship them in
// <prefix>/include/node (the same place node-gyp's `nodedir` points at), so use those when present.
const env = { ...process.env };
const nodePrefix = path.resolve(path.dirname(process.execPath), '..');
if (!env.npm_config_nodedir && fs.existsSync(path.join(nodePrefix, 'include/node/node.h'))) env.npm_config_nodedir = nodePrefix;

const outDir = path.resolve(root, process.env.SGDR_BUILD_DIR || 'build');
const target = path.join(outDir, 'Release/sgdr_native.node');
const args = [cmakeJs, 'build', '--out', outDir, '--parallel', jobs];
if (process.argv.includes('--debug')) args.push('--debug');
const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit', env });
if (r.status !== 0 || !fs.existsSync(target)) {
  process.stderr.write('libtorch-sgdr: native build failed (see the compiler output above)\n');
  process.exit(r.status || 1);
}
fs.writeFileSync(path.join(path.dirname(target), 'libtorch.json'), JSON.stringify(torch, null, 2) + '\n');
console.log(`libtorch-sgdr: built ${path.relative(root, target)}`);
