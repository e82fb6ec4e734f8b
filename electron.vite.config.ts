import { resolve } from 'node:path';
import { defineConfig } from 'electron-vite';
import react from '@vitejs/plugin-react';

export default defineConfig({
  main: {
    build: {
      rollupOptions: {
        input: {
          index: resolve(import.meta.dirname, 'src/main/index.ts'),
          // Child-process entries: ONNX Runtime never runs in the main process.
          'workers/engine-worker': resolve(
            import.meta.dirname,
            'src/main/workers/engine-worker.ts',
          ),
          'workers/provider-probe': resolve(
            import.meta.dirname,
            'src/main/workers/provider-probe.ts',
          ),
          'workers/optimize-worker': resolve(
            import.meta.dirname,
            'src/main/workers/optimize-worker.ts',
          ),
          'workers/quality-worker': resolve(
            import.meta.dirname,
            'src/main/workers/quality-worker.ts',
          ),
        },
        external: ['onnxruntime-node', 'better-sqlite3'],
      },
    },
  },
  preload: {
    build: {
      rollupOptions: {
        input: { index: resolve(import.meta.dirname, 'src/preload/index.ts') },
        // Sandboxed preloads must be CommonJS with nothing left to require but 'electron'.
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: {
    root: resolve(import.meta.dirname, 'src/renderer'),
    build: {
      rollupOptions: { input: { index: resolve(import.meta.dirname, 'src/renderer/index.html') } },
    },
    plugins: [react()],
  },
});
