// Which run the browser tests draw. A real run directory from the bundled demo
// (`npm run demo` writes .lily/runs/<id>/) when one exists and the backend's reader
// (native-runtime/io/runDir.ts, readRunSnapshot) is there; otherwise the generated fixture.
// Tests derive every expectation from the chosen snapshot, so both sources test the same things.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { RunSnapshot } from '../../native-runtime/protocol';
import type { DashboardFixture } from '../../webview/fixtureTypes';
import { REPO_ROOT } from './browser';
import { makeFixture } from './make-fixture';

export interface RunSource {
  kind: 'real run' | 'fixture';
  description: string;
  fixture: DashboardFixture;
}

/** Folders searched for run directories; LILY_WEBVIEW_RUNS (a folder of runs) comes first. */
const RUNS_DIRS = [
  ...(process.env.LILY_WEBVIEW_RUNS ? [process.env.LILY_WEBVIEW_RUNS] : []),
  join(REPO_ROOT, '.lily', 'runs'),
  join(REPO_ROOT, 'examples', 'sentiment', '.lily', 'runs'),
];

export async function loadRunSource(): Promise<RunSource> {
  const fallback = (why: string): RunSource => ({ kind: 'fixture', description: `generated fixture (${why})`, fixture: makeFixture() });
  const runDir = newestRunDir();
  if (!runDir) return fallback(`no run directory under ${RUNS_DIRS.join(' or ')}; run \`npm run demo\` to test on a real run`);
  let reader: { readRunSnapshot?: (dir: string) => RunSnapshot | Promise<RunSnapshot> };
  try {
    reader = require('../../native-runtime/io/runDir');
  } catch (err) {
    return fallback(`native-runtime/io/runDir.ts could not be loaded: ${(err as Error).message.split('\n')[0]}`);
  }
  if (typeof reader.readRunSnapshot !== 'function') return fallback('native-runtime/io/runDir.ts has no readRunSnapshot(runDir)');
  const run = await reader.readRunSnapshot(runDir);
  const missing = [
    !run.routerStats && 'router_stats.json',
    !run.spectrum && 'spectrum.json',
    run.router.length < 2 && 'two router.jsonl lines',
    run.metrics.filter((m) => m.type === 'train').length < 2 && 'two training lines in metrics.jsonl',
  ].filter(Boolean);
  if (missing.length) return fallback(`${runDir} lacks ${missing.join(', ')}`);
  return { kind: 'real run', description: `real run ${runDir}`, fixture: { init: { type: 'init', run } } };
}

function newestRunDir(): string | undefined {
  let best: { dir: string; time: number } | undefined;
  for (const root of RUNS_DIRS) {
    if (!existsSync(root)) continue;
    for (const name of readdirSync(root)) {
      const status = join(root, name, 'status.json');
      if (!existsSync(status)) continue;
      const time = statSync(status).mtimeMs;
      if (!best || time > best.time) best = { dir: join(root, name), time };
    }
  }
  return best?.dir;
}
