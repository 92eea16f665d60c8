#!/usr/bin/env node
/**
 * The test tiers of test/tiers.json (why there are four: its "_why").
 *   node scripts/test-tiers.js unit native   the tiers' test files, as paths for `vitest run`
 *   node scripts/test-tiers.js --check       every test/*.test.ts in exactly one tier, no stale names
 */
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const tiers = JSON.parse(fs.readFileSync(path.join(root, 'test', 'tiers.json'), 'utf8'));
const names = Object.keys(tiers).filter((k) => !k.startsWith('_'));
const args = process.argv.slice(2);

if (args.includes('--check')) {
  const files = fs
    .readdirSync(path.join(root, 'test'))
    .filter((f) => f.endsWith('.test.ts'))
    .map((f) => f.slice(0, -'.test.ts'.length));
  const seen = new Map();
  const problems = [];
  for (const tier of names) {
    for (const name of tiers[tier]) {
      if (seen.has(name)) problems.push(`${name} is in both ${seen.get(name)} and ${tier}`);
      seen.set(name, tier);
      if (!files.includes(name)) problems.push(`${tier} lists ${name}, but test/${name}.test.ts does not exist`);
    }
  }
  for (const f of files)
    if (!seen.has(f)) problems.push(`test/${f}.test.ts is in no tier: add it to test/tiers.json (${names.join(', ')})`);
  if (problems.length) {
    for (const p of problems) process.stderr.write(`test-tiers: ${p}\n`);
    process.exit(1);
  }
  process.stdout.write(
    `test-tiers: ${files.length} test files in ${names.length} tiers (${names.map((t) => `${t} ${tiers[t].length}`).join(', ')})\n`,
  );
  process.exit(0);
}

const unknown = args.filter((a) => !names.includes(a));
if (unknown.length || args.length === 0) {
  process.stderr.write(
    `usage: test-tiers.js TIER... | --check (tiers: ${names.join(', ')})${unknown.length ? `; unknown: ${unknown.join(', ')}` : ''}\n`,
  );
  process.exit(2);
}
process.stdout.write(args.flatMap((t) => tiers[t].map((n) => `test/${n}.test.ts`)).join(' '));
