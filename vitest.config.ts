import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Integration tests open real loopback sockets; two workers fit the 2-core CI machine.
    // (Vitest 4 replaced poolOptions.forks.maxForks with maxWorkers.)
    maxWorkers: 2,
  },
});
