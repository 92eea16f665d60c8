#!/usr/bin/env node
'use strict';
/**
 * Reads the report files of a scripts/sanitize.sh run (ASan/LSan's asan.PID, and the processes'
 * stderr in *.out, where UBSan writes: it ignores log_path beside ASan) and
 * prints the counts: tests run and passed (from vitest's JSON results), sanitizer error reports,
 * and leak reports in our code. Exit 1 when a test failed or any count is not 0.
 *
 *   node scripts/sanitizer-report.js LOG_DIR [--results vitest.json] [--seconds N] [--total-seconds N]
 *   node scripts/sanitizer-report.js --ours-only LOG_DIR     prints only the number of leaks in our code
 *
 * A leak is ours when the memory was allocated by our addon: the innermost frame of the allocating
 * stack outside the sanitizer runtime and the C/C++ runtime libraries (whose operator new, malloc
 * and std::string code only carry out the allocation) is in sgdr_native.node. LeakSanitizer reports
 * memory that nothing points to at exit, and in a Node process that is always some: V8 never collects
 * its heap at exit and LSan does not scan that heap, so what only V8 objects point to (V8's own
 * pages, Node's wrappers, LibTorch tensors held by JS objects never collected) looks lost. Such
 * reports name the allocating module, and are counted separately, not hidden. Memory our code
 * allocates and forgets (a new without its delete, a leaked tensor handle) has our module as its
 * allocation site; what it allocated through LibTorch shows up as indirect leaks under it. Memory
 * LibTorch allocated for a call of ours (our module on the stack) and nothing points to any more
 * (a reference count we raised and never dropped) counts as ours too: nothing of V8's holds such
 * memory, so exit cannot explain it.
 */
const fs = require('fs');
const path = require('path');

const OUR_MODULE = 'sgdr_native.node';
const LIBTORCH = /\/lib(torch|torch_cpu|torch_cuda|c10|c10_cuda)\.so/;
// Libraries that perform an allocation on someone else's behalf.
const RUNTIME = /\/(libasan|libubsan|liblsan|libstdc\+\+|libc|libgcc_s|libm)\.so/;

function frames(lines) {
  return lines
    .filter((l) => /^\s*#\d+ /.test(l))
    .map((l) => {
      const m = /\{([^}]*)\}\s*$/.exec(l) || /\(([^()+]+)\+0x[0-9a-f]+\)\s*$/.exec(l);
      return { line: l.trim(), module: m ? m[1] : '' };
    });
}

function allocationSite(block) {
  return frames(block).find((f) => f.module && !RUNTIME.test(f.module));
}

function isOurs(block) {
  const site = allocationSite(block);
  if (!site) return false;
  if (path.basename(site.module) === OUR_MODULE) return true;
  return LIBTORCH.test(site.module) && frames(block).some((f) => path.basename(f.module) === OUR_MODULE);
}

/** Parses one report file into { errors: [text], leaks: [{ kind, bytes, objects, ours, site, text }] }. */
function parseFile(file) {
  const text = fs.readFileSync(file, 'utf8');
  const lines = text.split('\n');
  const errors = [];
  const leaks = [];
  // A leak check that could not run ("Tracer caught signal 11 ... LeakSanitizer has encountered a
  // fatal error"): that process's leaks are unknown, which is not the same as none.
  const failedChecks = lines.filter((l) => /LeakSanitizer has encountered a fatal error/.test(l)).length;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    if (/ERROR: AddressSanitizer:/.test(l) || /:\d+(:\d+)?: runtime error: /.test(l)) {
      errors.push(lines.slice(i, i + 40).join('\n'));
      continue;
    }
    const m = /^(Direct|Indirect) leak of (\d+) byte\(s\) in (\d+) object\(s\) allocated from:/.exec(l);
    if (m) {
      const block = [];
      for (let j = i + 1; j < lines.length && lines[j].trim() !== ''; j++) block.push(lines[j]);
      const site = allocationSite(block);
      leaks.push({
        kind: m[1],
        bytes: Number(m[2]),
        objects: Number(m[3]),
        ours: isOurs(block),
        site: site ? site.line : '(no frames)',
        text: [l, ...block].join('\n'),
      });
    }
  }
  return { errors, leaks, failedChecks };
}

function readLogs(dir) {
  const files = fs.existsSync(dir)
    ? fs
        .readdirSync(dir)
        .filter((f) => /^(asan|ubsan)\.\d+$|\.out$/.test(f))
        .sort()
    : [];
  return files.map((f) => ({ file: f, ...parseFile(path.join(dir, f)) }));
}

function main() {
  const args = process.argv.slice(2);
  const oursOnly = args.includes('--ours-only');
  const opt = (name) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const dir = args.find(
    (a, i) => !a.startsWith('--') && !['--results', '--seconds', '--total-seconds'].includes(args[i - 1]),
  );
  if (!dir) throw new Error('usage: sanitizer-report.js LOG_DIR [--results FILE] [--seconds N] [--total-seconds N]');
  const logs = readLogs(dir);
  const errors = logs.flatMap((l) => l.errors.map((text) => ({ file: l.file, text })));
  const leaks = logs.flatMap((l) => l.leaks.map((k) => ({ file: l.file, ...k })));
  const ours = leaks.filter((k) => k.ours);
  const failedChecks = logs.filter((l) => l.failedChecks > 0).map((l) => l.file);
  if (oursOnly) {
    console.log(String(ours.filter((k) => k.kind === 'Direct').length));
    return;
  }

  let failed = false;
  const results = opt('--results');
  if (results) {
    if (!fs.existsSync(results)) {
      console.log('sanitize: tests: no results (vitest did not finish)');
      failed = true;
    } else {
      const r = JSON.parse(fs.readFileSync(results, 'utf8'));
      const crashed = r.testResults.filter((t) => t.status !== 'passed' && t.assertionResults.length === 0);
      const seconds = opt('--seconds');
      console.log(
        `sanitize: tests under ASan+UBSan: ${r.testResults.length} file${r.testResults.length === 1 ? '' : 's'}, ${r.numTotalTests} tests: ` +
          `${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + (r.numTodoTests || 0)} skipped` +
          `${crashed.length ? `; ${crashed.length} file(s) did not run: ${crashed.map((t) => path.basename(t.name)).join(', ')}` : ''}` +
          `${seconds ? ` (${seconds} s)` : ''}`,
      );
      if (!r.success || r.numFailedTests > 0 || crashed.length) failed = true;
    }
  }

  for (const e of errors) console.log(`sanitize: report in ${e.file}:\n${e.text.replace(/^/gm, '  | ')}`);
  const asan = errors.filter((e) => /AddressSanitizer/.test(e.text)).length;
  console.log(`sanitize: sanitizer reports: ${errors.length} (ASan ${asan}, UBSan ${errors.length - asan})`);

  for (const k of ours)
    console.log(
      `sanitize: leak in our code (${k.file}):\n${k.text.split('\n').slice(0, 25).join('\n').replace(/^/gm, '  | ')}`,
    );
  const others = leaks.filter((k) => !k.ours);
  const processes = new Set(leaks.map((k) => k.file)).size;
  const byModule = new Map();
  for (const k of others) {
    const m = /\{([^}]*)\}\s*$/.exec(k.site);
    const name = m ? path.basename(m[1]) : k.site.includes('(no frames)') ? '(no frames)' : 'unknown';
    byModule.set(name, (byModule.get(name) || 0) + k.bytes);
  }
  const where = [...byModule]
    .sort((a, b) => b[1] - a[1])
    .map(([m, b]) => `${m} ${b} B`)
    .join(', ');
  console.log(
    `sanitize: leak reports in our code: ${ours.length} ` +
      `(LeakSanitizer, every process at exit; not ours: ${others.length} reports from ${processes} processes, allocated in ${where || 'nothing'})`,
  );
  if (failedChecks.length) {
    console.log(
      `sanitize: leak checks that could not run: ${failedChecks.length} (${failedChecks.join(', ')}: LeakSanitizer's tracer failed)`,
    );
  }
  const total = opt('--total-seconds');
  if (total) console.log(`sanitize: ${total} s in all`);
  if (errors.length || ours.length || failedChecks.length) failed = true;
  process.exitCode = failed ? 1 : 0;
}

main();
