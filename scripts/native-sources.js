#!/usr/bin/env node
// The addon's C++ sources for binding.gyp: every .cc under native/'s layer folders (core, data,
// perf, distributed, binding), space-separated and relative to the package root. CMakeLists.txt globs the same
// folders, so a new file is picked up by both builds.
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const layers = ['core', 'data', 'perf', 'distributed', 'binding'];
const sources = [];
for (const layer of layers) {
  const dir = path.join(root, 'native', layer);
  for (const f of fs.readdirSync(dir).sort()) if (f.endsWith('.cc')) sources.push(`native/${layer}/${f}`);
}
process.stdout.write(sources.join(' '));
