import preact from '@preact/preset-vite';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The console: built into dist/ui, which the service serves at /ui/ (src/http/routes/ui.ts).
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/ui/',
  plugins: [preact({ devToolsEnabled: false, prefreshEnabled: false })],
  build: {
    outDir: fileURLToPath(new URL('../dist/ui', import.meta.url)),
    emptyOutDir: true,
    // No inline scripts or data: URLs: the page's CSP allows only its own origin.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    reportCompressedSize: true,
    sourcemap: false,
  },
  server: {
    // npm run ui:dev: the page from vite, the API from a service on port 8000.
    proxy: Object.fromEntries(
      ['/sources', '/events', '/stats', '/tasks', '/sync', '/webhooks', '/data', '/customers', '/campaigns'].map((p) => [p, 'http://127.0.0.1:8000']),
    ),
  },
});
