// Bundles the dashboard webview on its own: webview/src/main.ts -> out/webview/dashboard.js,
// webview/styles/dashboard.css -> out/webview/dashboard.css, and a plain-browser page
// out/webview/index.html (loads fixture.js when present: `npx tsx test/webview/make-fixture.ts`).
//
//   node scripts/build-webview.mjs            one build
//   node scripts/build-webview.mjs --watch    rebuild on change
//   node scripts/build-webview.mjs --dev      unminified, with inline source maps
import * as esbuild from 'esbuild';
import { mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(root, 'out', 'webview');
const watch = process.argv.includes('--watch');
const dev = watch || process.argv.includes('--dev');

/** Builds the bundle, the stylesheet and index.html; returns the output paths. */
export async function buildWebview({ minify = !dev } = {}) {
  mkdirSync(outDir, { recursive: true });
  const common = { bundle: true, logLevel: 'warning', minify, sourcemap: dev ? 'inline' : false, absWorkingDir: root };
  await esbuild.build({
    ...common,
    entryPoints: { dashboard: join(root, 'webview', 'src', 'main.ts') },
    outdir: outDir,
    format: 'iife',
    platform: 'browser',
    target: ['chrome114'],
    tsconfig: join(root, 'webview', 'tsconfig.json'),
    // Third-party licence comments go to dashboard.js.LEGAL.txt instead of the bundle.
    legalComments: 'linked',
  });
  await esbuild.build({ ...common, entryPoints: { dashboard: join(root, 'webview', 'styles', 'dashboard.css') }, outdir: outDir });
  writeFileSync(join(outDir, 'index.html'), await standalonePage());
  return { script: join(outDir, 'dashboard.js'), style: join(outDir, 'dashboard.css'), page: join(outDir, 'index.html') };
}

/** The plain-browser page: same template as the VS Code panel, with a fixed nonce (local file). */
async function standalonePage() {
  const result = await esbuild.build({
    entryPoints: [join(root, 'webview', 'dashboardHtml.ts')],
    bundle: true, write: false, format: 'cjs', platform: 'node', logLevel: 'warning',
  });
  const module = { exports: {} };
  new Function('module', 'exports', 'require', result.outputFiles[0].text)(module, module.exports, createRequire(import.meta.url));
  return module.exports.renderDashboardHtml({
    cspSource: 'file:',
    nonce: 'lily-standalone',
    scriptUri: 'dashboard.js',
    styleUri: 'dashboard.css',
    preScripts: ['fixture.js'],
    title: 'Lily dashboard (fixture)',
  });
}

const invokedDirectly = process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1];
if (invokedDirectly) {
  const started = Date.now();
  const out = await buildWebview();
  const kb = (p) => `${(readFileSync(p).length / 1024).toFixed(0)} KiB`;
  console.log(`webview: ${out.script} (${kb(out.script)}), ${out.style} (${kb(out.style)}), ${out.page} in ${Date.now() - started} ms`);
  if (watch) {
    const ctx = await esbuild.context({
      entryPoints: [join(root, 'webview', 'src', 'main.ts'), join(root, 'webview', 'styles', 'dashboard.css')],
      bundle: true, outdir: outDir, sourcemap: 'inline', format: 'iife', logLevel: 'info', absWorkingDir: root,
      tsconfig: join(root, 'webview', 'tsconfig.json'),
      entryNames: 'dashboard',
    });
    await ctx.watch();
    console.log('webview: watching for changes (Ctrl+C stops)');
  }
}
