/**
 * Bundles host/index.tsx with esbuild: the shared modules come from the npm packages the
 * plugin builds against (plugin/package.json), in React's development build so that
 * React's warnings reach the console as they do in a development Grafana.
 */
import fs from 'node:fs';
import path from 'node:path';

import { build } from 'esbuild';
import semver from 'semver';

/** The shared modules the plugin declares in plugin/package.json, with the versions the page bundles. */
export interface SharedVersion {
  name: string;
  wanted: string;
  bundled: string;
}

const SHARED = ['react', 'react-dom', '@grafana/data', '@grafana/ui', '@grafana/runtime', '@emotion/css'];

/** Fails when a shared module installed here is not the version the plugin builds against. */
export function sharedVersions(pluginDir: string): SharedVersion[] {
  const pkg = JSON.parse(fs.readFileSync(path.join(pluginDir, 'package.json'), 'utf8'));
  const wanted: Record<string, string> = { ...pkg.devDependencies, ...pkg.dependencies };
  return SHARED.filter((name) => wanted[name]).map((name) => {
    const file = require.resolve(`${name}/package.json`, { paths: [pluginDir] });
    const bundled: string = JSON.parse(fs.readFileSync(file, 'utf8')).version;
    if (!semver.satisfies(bundled, wanted[name])) {
      throw new Error(`${name} ${bundled} is installed, but the plugin builds against ${wanted[name]}: run npm ci`);
    }
    return { name, wanted: wanted[name], bundled };
  });
}

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
