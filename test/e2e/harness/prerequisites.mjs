// What `npm run test:e2e` needs before it starts anything, so that running it alone (without
// `npm test` before it) neither fails for a missing browser nor tests yesterday's build:
//  - Debian's Chromium: when missing, scripts/setup-system.sh installs it (as root);
//  - a current build: when out/ lacks an output, or a source file is newer than the oldest of
//    the outputs the e2e run loads, `npm run build` runs first. tsc (not incremental here) and
//    esbuild rewrite every output on each build, so the oldest output marks the last build.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { CHROMIUM } from './browser.mjs';

/** Outputs the e2e run loads: the extension, the backend CLI, the extension tests, the dashboard bundle. */
export const BUILD_OUTPUTS = ['out/src/extension.js', 'out/native-runtime/cli.js', 'out/test/e2e/suite/index.js', 'out/webview/dashboard.js'];
/** Source folders those outputs are built from, and which files in them count. */
export const BUILD_SOURCES = ['src', 'native-runtime', 'webview', 'test/e2e'];
const SOURCE_FILE = /\.(ts|css)$/;

/**
 * Why the build under `root` is out of date, or null when it is current: a missing output, or
 * the newest source file that is newer than the oldest output.
 * @returns {string | null}
 */
export function staleBuildReason(root) {
  const missing = BUILD_OUTPUTS.filter((f) => !existsSync(path.join(root, f)));
  if (missing.length) return `${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} missing`;
  const oldest = BUILD_OUTPUTS.map((f) => ({ f, t: statSync(path.join(root, f)).mtimeMs })).reduce((a, b) => (b.t < a.t ? b : a));
  let newest = null;
  for (const dir of BUILD_SOURCES) {
    for (const file of sourceFiles(path.join(root, dir))) {
      const t = statSync(file).mtimeMs;
      if (!newest || t > newest.t) newest = { file, t };
    }
  }
  if (newest && newest.t > oldest.t) {
    return `${path.relative(root, newest.file)} is newer than ${oldest.f} (by ${Math.round((newest.t - oldest.t) / 1000)} s)`;
  }
  return null;
}

function* sourceFiles(dir) {
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* sourceFiles(full);
    else if (SOURCE_FILE.test(entry.name)) yield full;
  }
}

/** Installs Chromium when missing and rebuilds a stale build; throws, saying what to do, when either fails. */
export function ensurePrerequisites(root, print) {
  if (!existsSync(CHROMIUM)) {
    print(`e2e: Chromium not found at ${CHROMIUM}: running \`bash scripts/setup-system.sh\` to install it`);
    run('bash', ['scripts/setup-system.sh'], root, `installing Chromium failed; install it yourself (apt-get install -y chromium, as root) or set LILY_E2E_CHROMIUM`);
    if (!existsSync(CHROMIUM)) throw new Error(`e2e: scripts/setup-system.sh ran, but there is still no Chromium at ${CHROMIUM}; set LILY_E2E_CHROMIUM to its path`);
  }
  const stale = staleBuildReason(root);
  if (stale) {
    print(`e2e: the build is out of date (${stale}): running \`npm run build\` first`);
    run(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['run', 'build'], root, 'fix the build errors above, then run the e2e tests again');
    // A source saved while the build ran is newer than the outputs but was not necessarily
    // missed; say so rather than fail (CI edits nothing; a person may be typing).
    const still = staleBuildReason(root);
    if (still) print(`e2e: warning: a source changed during the build (${still}); testing the build as made`);
  }
}

function run(cmd, args, cwd, advice) {
  const r = spawnSync(cmd, args, { cwd, stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`e2e: \`${cmd} ${args.join(' ')}\` ended with ${r.signal ?? `exit code ${r.status}`}${r.error ? ` (${r.error.message})` : ''}: ${advice}`);
}
