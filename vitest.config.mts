import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Native training steps and PyTorch reference runs are slow on 2 cores.
    testTimeout: 180_000,
    hookTimeout: 180_000,
    // Each file loads the addon; forks keep a native crash from taking the runner with it.
    pool: 'forks',
    fileParallelism: false,
  },
});
