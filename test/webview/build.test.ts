// The webview is type-checked by the build: it has its own tsconfig (DOM types, bundler
// resolution) that `tsc -p .` does not cover, and esbuild strips types without checking them.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './browser';

describe('webview build', () => {
  it('npm run build type-checks webview/ (tsc -p webview --noEmit) before bundling it', () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    const steps = pkg.scripts.build.split('&&').map((s) => s.trim());
    const check = steps.indexOf('tsc -p webview --noEmit');
    const bundle = steps.findIndex((s) => s.includes('scripts/build-webview.mjs'));
    assert.ok(check >= 0, `package.json scripts.build ("${pkg.scripts.build}") does not run "tsc -p webview --noEmit"`);
    assert.ok(bundle > check, `package.json scripts.build must type-check the webview before bundling it: "${pkg.scripts.build}"`);
  });
});
