/**
 * Bundles host/index.tsx with esbuild: the shared modules come from the npm packages the
 * plugin builds against (plugin/package.json), in React's development build so that
 * React's warnings reach the console as they do in a development Grafana.
 */
import path from 'node:path';

import { build } from 'esbuild';

export async function bundleHost(root: string, outdir: string): Promise<void> {
  const i18nInternal = require.resolve('@grafana/i18n').replace(/dist\/cjs\/index\.cjs$/, 'dist/esm/i18n.mjs');
  await build({
    entryPoints: [path.join(__dirname, 'host', 'index.tsx')],
    bundle: true,
    outfile: path.join(outdir, 'host.js'),
    format: 'iife',
    platform: 'browser',
    target: 'es2022',
    jsx: 'transform',
    sourcemap: false,
    logLevel: 'error',
    absWorkingDir: root,
    define: {
      'process.env.NODE_ENV': '"development"',
      global: 'globalThis',
    },
    alias: { '@grafana/i18n/internal': i18nInternal },
    loader: {
      '.svg': 'file',
      '.png': 'file',
      '.woff': 'file',
      '.woff2': 'file',
      '.ttf': 'file',
      '.eot': 'file',
    },
  });
}
