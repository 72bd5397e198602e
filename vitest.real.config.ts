import { defineConfig } from 'vitest/config';

/**
 * The real-server suite (`npm run test:real`, body in .ci/real.sh): thinkgate in front of real
 * llama.cpp and vLLM servers on the CPU. Kept out of `npm test` (vitest.config.ts includes only
 * *.test.ts; these files are *.real.ts). One fork, files in sequence: the servers are shared and
 * small (one llama.cpp slot), and the CPU is 2 cores.
 */
export default defineConfig({
  test: {
    include: ['test/real/**/*.real.ts'],
    globalSetup: ['test/real/global-setup.ts'],
    testTimeout: 180_000,
    hookTimeout: 900_000,
    // One worker, files in sequence (Vitest 4 replaced poolOptions.forks.singleFork): the
    // servers live in the global setup and reach each file through inject().
    fileParallelism: false,
    maxWorkers: 1,
  },
});
