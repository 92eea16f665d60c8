#!/usr/bin/env node
'use strict';
/**
 * The one LibTorch locator: CMakeLists.txt (through cmake-js) and binding.gyp both ask it, so the
 * two builds can never disagree about which LibTorch they compile and link against.
 *
 * Search order (first hit wins; nothing is ever downloaded):
 *   1. $LIBTORCH              a LibTorch folder (the official zip layout: include/, lib/, share/cmake/Torch)
 *   2. $Torch_DIR, then $CMAKE_PREFIX_PATH entries holding TorchConfig.cmake
 *   3. the Python torch that `python3 -c 'import torch'` finds ($SGDR_PYTHON overrides the interpreter)
 *   4. the system package (Debian/Ubuntu libtorch-dev: /usr/lib/<triplet>/cmake/Torch)
 *
 * Usage: node scripts/find-libtorch.js [--json | --summary | --version | --cmake-dir | --include-dirs | --lib-dir |
 *        --libraries | --defines | --cuda | --cxx-standard | --cxx-flag | --c10d-defines | --c10d-include-dirs]       (the last ones print gyp-friendly, space-separated lists)
 */
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const TRIED_HINT = [
  'Could not find LibTorch. Give it one of these ways:',
  '  - LIBTORCH=/path/to/libtorch (a folder with include/, lib/ and share/cmake/Torch)',
  '  - Torch_DIR=/path/to/share/cmake/Torch or CMAKE_PREFIX_PATH=/path/to/libtorch',
  '  - a Python with torch installed, found as `python3` (or set SGDR_PYTHON=/path/to/python)',
  '  - the system package: on Debian/Ubuntu `sudo apt-get install libtorch-dev` (or run scripts/setup.sh)',
].join('\n');

function isTorchCmakeDir(dir) {
  return !!dir && fs.existsSync(path.join(dir, 'TorchConfig.cmake'));
}

/** TorchConfig.cmake states the libstdc++ ABI LibTorch was built with; the addon must match it. */
function abiFromCmake(cmakeDir) {
  try {
    const text = fs.readFileSync(path.join(cmakeDir, 'TorchConfig.cmake'), 'utf8');
    const m = text.match(/_GLIBCXX_USE_CXX11_ABI=([01])/);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The C++ standard to compile against it: what TorchConfig.cmake asks of its users (14 for 1.13,
 * 20 for 2.x; LibTorch 2.14's headers refuse anything older), and never below the 17 our code is written in.
 */
function cxxStandardFromCmake(cmakeDir) {
  try {
    const m = fs.readFileSync(path.join(cmakeDir, 'TorchConfig.cmake'), 'utf8').match(/CXX_STANDARD\s+(\d+)/);
    return Math.max(17, m ? Number(m[1]) : 17);
  } catch {
    return 17;
  }
}

function firstExisting(dirs, file) {
  return dirs.find((d) => fs.existsSync(path.join(d, file)));
}

/** Builds the full description from a TorchConfig.cmake folder plus optional known prefix. */
function describe(source, cmakeDir, extra = {}) {
  // TorchConfig.cmake itself assumes <prefix>/share/cmake/Torch; Debian puts it in lib/<triplet>/cmake.
  const prefix = extra.prefix || path.resolve(cmakeDir, '../../../..');
  const libCandidates = [extra.libDir, path.join(prefix, 'lib'), path.resolve(cmakeDir, '../..')].filter(Boolean);
  const libDir =
    firstExisting(libCandidates, 'libtorch.so') ||
    firstExisting(libCandidates, 'libtorch.dylib') ||
    firstExisting(libCandidates, 'torch.lib');
  if (!libDir) return undefined;
  const includeRoot = extra.includeDir || path.join(prefix, 'include');
  const includeDirs = [includeRoot, path.join(includeRoot, 'torch/csrc/api/include')];
  if (!fs.existsSync(path.join(includeRoot, 'torch/csrc/api/include/torch/torch.h'))) return undefined;
  const has = (name) =>
    ['so', 'dylib', 'lib'].some(
      (ext) =>
        fs.existsSync(path.join(libDir, `lib${name}.${ext}`)) || fs.existsSync(path.join(libDir, `${name}.${ext}`)),
    );
  const cuda = has('torch_cuda');
  const libraries = ['torch', 'torch_cpu', 'c10'].concat(cuda ? ['torch_cuda', 'c10_cuda'] : []).filter(has);
  const cxx11Abi = extra.cxx11Abi ?? abiFromCmake(cmakeDir) ?? 1;
  const version = versionFromHeaders(includeRoot);
  const python = extra.python;
  const cxxStandard = cxxStandardFromCmake(cmakeDir);
  const c10d = c10dOf(prefix, includeRoot, cuda);
  return {
    source,
    version,
    prefix,
    cmakeDir,
    includeDirs,
    libDir,
    libraries,
    cxx11Abi,
    cxxStandard,
    cuda,
    cudaVersion: cuda ? cudaVersionOf(prefix, libDir) : undefined,
    python,
    c10d,
  };
}

/**
 * What data parallelism can be built with (native/distributed/): the c10d backends whose headers
 * are all here. Gloo: ProcessGroupGloo.hpp from LibTorch plus Gloo's own headers, which the PyTorch
 * wheel does not ship (Debian's libgloo-dev; $GLOO_INCLUDE_DIR elsewhere; gloo_backend.cc says why
 * those are sound against the wheel). NCCL: a CUDA LibTorch's ProcessGroupNCCL.hpp plus nccl.h (the
 * CUDA wheel's nvidia-nccl package, $NCCL_INCLUDE_DIR, or the system's).
 */
function c10dOf(prefix, includeRoot, cuda) {
  const c10dDir = path.join(includeRoot, 'torch/csrc/distributed/c10d');
  const withHeader = (dirs, rel) => dirs.filter(Boolean).find((d) => fs.existsSync(path.join(d, rel)));
  const gloo = fs.existsSync(path.join(c10dDir, 'ProcessGroupGloo.hpp'))
    ? withHeader([process.env.GLOO_INCLUDE_DIR, includeRoot, '/usr/include', '/usr/local/include'], 'gloo/algorithm.h')
    : undefined;
  // The wheel's torch/ sits in site-packages beside nvidia/nccl/.
  const nccl =
    cuda && fs.existsSync(path.join(c10dDir, 'ProcessGroupNCCL.hpp'))
      ? withHeader(
          [
            process.env.NCCL_INCLUDE_DIR,
            path.join(prefix, '..', 'nvidia', 'nccl', 'include'),
            '/usr/include',
            '/usr/local/cuda/include',
          ],
          'nccl.h',
        )
      : undefined;
  const system = new Set(['/usr/include', '/usr/local/include']);
  // ProcessGroupNCCL.hpp reaches ATen's CUDA context, which includes the CUDA libraries' headers
  // (cusparse.h, cublas_v2.h, cusolverDn.h, cuda_runtime_api.h): the wheel's nvidia-* packages
  // (site-packages/nvidia/<pkg>/include, or nvidia/cu13/include for CUDA 13), then the toolkit's.
  const cudaIncludes = [];
  if (nccl) {
    const nvidia = path.join(prefix, '..', 'nvidia');
    try {
      for (const pkg of fs.readdirSync(nvidia).sort()) {
        const dir = path.join(nvidia, pkg, 'include');
        if (fs.existsSync(dir) && dir !== nccl) cudaIncludes.push(dir);
      }
    } catch {
      /* not a wheel layout */
    }
    for (const dir of [process.env.CUDA_HOME && path.join(process.env.CUDA_HOME, 'include'), '/usr/local/cuda/include'])
      if (dir && fs.existsSync(path.join(dir, 'cuda_runtime_api.h'))) {
        cudaIncludes.push(dir);
        break;
      }
  }
  return {
    gloo: Boolean(gloo),
    nccl: Boolean(nccl),
    defines: [].concat(
      gloo ? ['SGDR_WITH_GLOO', 'USE_C10D_GLOO'] : [],
      nccl ? ['SGDR_WITH_NCCL', 'USE_C10D_NCCL'] : [],
    ),
    includeDirs: [gloo, nccl, ...cudaIncludes].filter((d) => d && !system.has(d) && d !== includeRoot),
  };
}

/** The version LibTorch's own headers state (torch/headeronly/version.h from 2.8, torch/csrc/api/include/torch/version.h before). */
function versionFromHeaders(includeRoot) {
  for (const rel of ['torch/headeronly/version.h', 'torch/csrc/api/include/torch/version.h']) {
    let text;
    try {
      text = fs.readFileSync(path.join(includeRoot, rel), 'utf8');
    } catch {
      continue;
    }
    const part = (name) => (text.match(new RegExp(`#define TORCH_VERSION_${name}\\s+(\\d+)`)) || [])[1];
    if (part('MAJOR') !== undefined) return `${part('MAJOR')}.${part('MINOR')}.${part('PATCH')}`;
  }
  return undefined;
}

/** The CUDA a CUDA LibTorch was built for: Python torch's version.py says it; else the libcudart it names. */
function cudaVersionOf(prefix, libDir) {
  try {
    const m = fs.readFileSync(path.join(prefix, 'version.py'), 'utf8').match(/^cuda\s*(?::\s*\S+)?\s*=\s*'([^']+)'/m);
    if (m) return m[1];
  } catch {
    /* not a Python torch package */
  }
  try {
    const m = fs
      .readdirSync(libDir)
      .map((f) => f.match(/^libcudart[^.]*\.so\.(\d+(?:\.\d+)?)/))
      .find(Boolean);
    if (m) return m[1];
  } catch {
    /* unreadable lib dir */
  }
  return 'unknown';
}

/** One line for people: what was found, and where from. */
function summary(t) {
  const flavour = t.cuda ? `CUDA ${t.cudaVersion}` : 'CPU';
  return `LibTorch ${t.version || '(version unknown)'} (${flavour}, _GLIBCXX_USE_CXX11_ABI=${t.cxx11Abi}, C++${t.cxxStandard}) from ${t.source}: ${t.libDir}`;
}

function fromLibtorchEnv() {
  const root = process.env.LIBTORCH;
  if (!root) return undefined;
  const cmakeDir = path.join(root, 'share/cmake/Torch');
  if (!isTorchCmakeDir(cmakeDir))
    throw new Error(`LIBTORCH=${root} has no share/cmake/Torch/TorchConfig.cmake\n${TRIED_HINT}`);
  return describe('LIBTORCH', cmakeDir, { prefix: root, libDir: path.join(root, 'lib') });
}

function fromCmakeEnv() {
  const candidates = [];
  if (process.env.Torch_DIR) candidates.push(['Torch_DIR', process.env.Torch_DIR]);
  for (const p of (process.env.CMAKE_PREFIX_PATH || '').split(path.delimiter).filter(Boolean)) {
    candidates.push(['CMAKE_PREFIX_PATH', p], ['CMAKE_PREFIX_PATH', path.join(p, 'share/cmake/Torch')]);
  }
  for (const [source, dir] of candidates) {
    if (isTorchCmakeDir(dir)) {
      const found = describe(source, dir);
      if (found) return found;
    }
  }
  return undefined;
}

function fromPython() {
  const python = process.env.SGDR_PYTHON || 'python3';
  const code = [
    'import os, torch, torch.utils',
    'd = os.path.dirname(torch.__file__)',
    'print(torch.utils.cmake_prefix_path); print(d); print(int(torch._C._GLIBCXX_USE_CXX11_ABI))',
  ].join('\n');
  const r = spawnSync(python, ['-c', code], { encoding: 'utf8', timeout: 60000 });
  if (r.status !== 0 || !r.stdout) return undefined;
  const [cmakePrefix, torchDir, abi] = r.stdout.trim().split('\n');
  const cmakeDir = path.join(cmakePrefix, 'Torch');
  // pip wheels ship lib/ and include/ inside the package; Debian's python3-torch points at the system package.
  if (isTorchCmakeDir(cmakeDir) && fs.existsSync(path.join(torchDir, 'include'))) {
    return describe(`python (${python})`, cmakeDir, {
      prefix: torchDir,
      libDir: path.join(torchDir, 'lib'),
      includeDir: path.join(torchDir, 'include'),
      cxx11Abi: Number(abi),
      python: resolvePython(python),
    });
  }
  return undefined;
}

/** The interpreter's absolute path, so the record of a build names the Python whose torch it used. */
function resolvePython(python) {
  if (path.isAbsolute(python)) return python;
  const r = spawnSync(python, ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8', timeout: 60000 });
  return r.status === 0 && r.stdout.trim() ? r.stdout.trim() : python;
}

/** Debian's python3-torch is the Python face of its libtorch-dev: the reference for a system build, when it is installed. */
function systemPythonFor(cmakeDir) {
  const python = '/usr/bin/python3';
  if (!fs.existsSync(python)) return undefined;
  const r = spawnSync(python, ['-c', 'import torch, torch.utils; print(torch.utils.cmake_prefix_path)'], {
    encoding: 'utf8',
    timeout: 60000,
  });
  return r.status === 0 && path.resolve(r.stdout.trim(), 'Torch') === path.resolve(cmakeDir) ? python : undefined;
}

function fromSystem() {
  const roots = ['/usr/lib', '/usr/local/lib', '/usr/lib64'];
  for (const root of roots) {
    let entries = [];
    try {
      entries = fs.readdirSync(root);
    } catch {
      continue;
    }
    for (const dir of [path.join(root, 'cmake/Torch')].concat(entries.map((e) => path.join(root, e, 'cmake/Torch')))) {
      if (isTorchCmakeDir(dir)) {
        const found = describe('system package', dir, {
          prefix: path.resolve(root, '..'),
          includeDir: '/usr/include',
          python: systemPythonFor(dir),
        });
        if (found) return found;
      }
    }
  }
  return undefined;
}

function findLibTorch() {
  const found = fromLibtorchEnv() || fromCmakeEnv() || fromPython() || fromSystem();
  if (!found) throw new Error(TRIED_HINT);
  return found;
}

module.exports = { findLibTorch, summary };

if (require.main === module) {
  try {
    const t = findLibTorch();
    const arg = process.argv[2] || '--json';
    const out = {
      '--json': () => JSON.stringify(t, null, 2),
      '--summary': () => summary(t),
      '--version': () => t.version || 'unknown',
      '--cmake-dir': () => t.cmakeDir,
      '--include-dirs': () => t.includeDirs.join(' '),
      '--lib-dir': () => t.libDir,
      '--libraries': () => t.libraries.map((l) => `-l${l}`).join(' '),
      '--defines': () => `_GLIBCXX_USE_CXX11_ABI=${t.cxx11Abi}`,
      '--cuda': () => (t.cuda ? '1' : '0'),
      '--cxx-standard': () => String(t.cxxStandard),
      '--cxx-flag': () => `-std=c++${t.cxxStandard}`,
      '--c10d-defines': () => t.c10d.defines.join(' '),
      '--c10d-include-dirs': () => t.c10d.includeDirs.join(' '),
    }[arg];
    if (!out) throw new Error(`unknown option ${arg}`);
    process.stdout.write(out() + '\n');
  } catch (err) {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
}
