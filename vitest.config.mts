import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Every temporary file of the run, the spawned CLIs' and Python's included, goes under one
    // folder that is removed at the end (test/setup/temp-root.ts).
    globalSetup: ['test/setup/temp-root.ts'],
    // Each file's own temporary folders go as soon as its tests end (test/setup/remove-temp-dirs.ts);
    // sanitizer.ts is a no-op unless scripts/sanitize.sh runs the tests: then a leak check after each file.
    setupFiles: ['test/setup/remove-temp-dirs.ts', 'test/setup/sanitizer.ts'],
    // Native training steps and PyTorch reference runs are slow on 2 cores.
    testTimeout: 180_000,
    hookTimeout: 180_000,
    // Each file loads the addon; forks keep a native crash from taking the runner with it.
    pool: 'forks',
    fileParallelism: false,
  },
});
