import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    environment: 'node',
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // The machine has two cores and the integration tests run ONNX Runtime: keep files sequential
    // enough that timings stay sane.
    maxWorkers: 2,
    fileParallelism: true,
  },
});
