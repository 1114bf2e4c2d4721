// The run data the browser tests draw: REAL training runs of the bundled example, produced by
// the real CLI (`node bin/lily.js train`) at the start of the test process. A Lily run, and a
// LoRA run at the same budget (`--compare-lora`) for the comparison overlay. Nothing here falls
// back to generated data: when the runs cannot be produced the suite fails, saying why.
// The run directories stay under test-artifacts/webview/runs/ next to the screenshots.
//
// One training pair per test process (mocha loads every test file into one process), ~5 s.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { CompareRunSnapshot, RunSnapshot } from '../../native-runtime/protocol';
import type { SweepMember } from '../../native-runtime/runFiles';
import { readRunSnapshot } from '../../native-runtime/io/runDir';
import type { DashboardFixture } from '../../webview/fixtureTypes';
import { ARTIFACTS, REPO_ROOT } from './browser';

export const EXAMPLE_CONFIG = join(REPO_ROOT, 'examples', 'sentiment', 'sentiment.lily.json');
export const REAL_RUNS_DIR = join(ARTIFACTS, 'runs');
/** Enough steps for three logged training points and three router.jsonl lines (log_every 10). */
export const REAL_RUN_STEPS = 30;
const CLI = join(REPO_ROOT, 'bin', 'lily.js');
const CLI_BUILT = join(REPO_ROOT, 'out', 'native-runtime', 'cli.js');
const TRAIN_TIMEOUT_MS = 150_000;

export interface RealRuns {
  lily: RunSnapshot;
  lora: RunSnapshot;
  /** init = the Lily run with the LoRA run as its comparison, as the host posts it. */
  fixture: DashboardFixture;
}

let pending: Promise<RealRuns> | undefined;

/** Trains (once per process) and reads back the real Lily and LoRA runs. Rejects when either cannot be produced. */
export function realRuns(): Promise<RealRuns> {
  pending ??= produceRealRuns();
  return pending;
}

async function produceRealRuns(): Promise<RealRuns> {
  if (!existsSync(CLI_BUILT)) {
    throw new Error(`${relative(REPO_ROOT, CLI_BUILT)} is missing: the webview tests train the bundled example through the real CLI (bin/lily.js), which needs \`npm run build\` first.`);
  }
  mkdirSync(REAL_RUNS_DIR, { recursive: true });
  const lilyDir = join(REAL_RUNS_DIR, 'lily');
  const loraDir = join(REAL_RUNS_DIR, 'lora');
  // Sequential: CI has two cores, each run uses one thread, and parallel runs would make the
  // failure output of one harder to read for no real gain (~2-3 s each).
  await train(lilyDir, []);
  await train(loraDir, ['--compare-lora']);
  const lily = checkedSnapshot(lilyDir, 'lily');
  const lora = checkedSnapshot(loraDir, 'lora');
  return {
    lily,
    lora,
    fixture: {
      init: { type: 'init', run: lily, compare: lora },
      runs: {
        type: 'runs',
        runs: [lily, lora].map((r) => ({ runDir: r.runDir, name: r.status.name, method: r.status.method, state: r.status.state })),
      },
    },
  };
}

function train(runDir: string, extra: string[]): Promise<void> {
  rmSync(runDir, { recursive: true, force: true });
  return runCli(['train', EXAMPLE_CONFIG, '--max-steps', String(REAL_RUN_STEPS), '--run-dir', runDir, '--device', 'cpu', '--threads', '1', ...extra], REPO_ROOT);
}

/** The sweep's grid: two learning rates, evaluated every 10 steps (so best and final eval can differ). */
export const SWEEP_GRID = ['training.lr=1e-3,1e-2', 'training.eval_every=10'];

let pendingSweep: Promise<CompareRunSnapshot[]> | undefined;

/**
 * A real `lily sweep` of the bundled example over SWEEP_GRID (2 runs of REAL_RUN_STEPS steps, each
 * with its sweep.json), read back as the host's compareSet sends runs. Once per process.
 */
export function realSweepRuns(): Promise<CompareRunSnapshot[]> {
  pendingSweep ??= (async () => {
    const cwd = join(ARTIFACTS, 'sweep');
    rmSync(cwd, { recursive: true, force: true });
    mkdirSync(cwd, { recursive: true });
    const [first, ...more] = SWEEP_GRID;
    // output.dir defaults to .lily/runs under the working directory.
    await runCli(['sweep', EXAMPLE_CONFIG, '--grid', first, ...more, '--max-steps', String(REAL_RUN_STEPS), '--device', 'cpu', '--threads', '1'], cwd);
    const runsDir = join(cwd, '.lily', 'runs');
    const runs = readdirSync(runsDir).sort().map((d) => compareSnapshot(join(runsDir, d)));
    if (runs.length !== 2 || runs.some((r) => !r.sweep)) throw new Error(`lily sweep in ${cwd} made ${runs.length} runs (expected 2, each with sweep.json)`);
    return runs.sort((a, b) => a.sweep!.index - b.sweep!.index);
  })();
  return pendingSweep;
}

/** A run as the host's compareSet sends it (src/compareFeed.ts reads the same files). */
export function compareSnapshot(runDir: string): CompareRunSnapshot {
  const { status, config, metrics } = readRunSnapshot(runDir);
  let sweep: SweepMember | undefined;
  try {
    sweep = JSON.parse(readFileSync(join(runDir, 'sweep.json'), 'utf8')) as SweepMember;
  } catch {
    sweep = undefined;
  }
  return { runDir, status, config, metrics, ...(sweep ? { sweep } : {}) };
}

function runCli(cliArgs: string[], cwd: string): Promise<void> {
  const args = [CLI, ...cliArgs];
  const shown = `node ${args.map((a) => relative(REPO_ROOT, a) || a).join(' ')}`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd, env: { ...process.env, OMP_NUM_THREADS: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-8000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setTimeout(() => child.kill('SIGKILL'), TRAIN_TIMEOUT_MS);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`could not start \`${shown}\`: ${err.message}`));
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`\`${shown}\` ended with ${signal ?? `exit code ${code}`}${signal === 'SIGKILL' ? ` (killed after ${TRAIN_TIMEOUT_MS / 1000} s)` : ''}; the dashboard tests need this real run. Its output:\n${output}`));
    });
  });
}

/** The run as the host would send it, after checking it has everything the tests draw. */
function checkedSnapshot(runDir: string, method: 'lily' | 'lora'): RunSnapshot {
  const run = readRunSnapshot(runDir);
  const train = run.metrics.filter((m) => m.type === 'train').length;
  const problems = [
    run.status.state !== 'completed' && `status.json state is "${run.status.state}", expected "completed"${run.status.error ? ` (${run.status.error})` : ''}`,
    run.status.method !== method && `status.json method is "${run.status.method}", expected "${method}"`,
    train < 2 && `metrics.jsonl has ${train} training lines, expected at least 2`,
    !run.spectrum && 'spectrum.json is missing',
  ];
  if (method === 'lily') {
    const stats = run.routerStats;
    problems.push(
      run.router.length < 2 && `router.jsonl has ${run.router.length} lines, expected at least 2`,
      !stats && 'router_stats.json is missing',
      !!stats && !stats.targets.every((t) => t.per_layer.every((l) => Object.keys(l.per_class ?? {}).length > 0)) && 'router_stats.json has a layer without per_class (a classification run records one mean per label)',
      !!stats && !stats.targets.every((t) => t.example && t.example.tokens.length > 0) && 'router_stats.json has a target without an example (per-token routing of one input)',
      !run.spectrum?.targets.some((t) => t.expert_similarity) && 'spectrum.json has no expert_similarity',
    );
  }
  const found = problems.filter((p): p is string => typeof p === 'string');
  if (found.length) throw new Error(`the real ${method} run in ${runDir} cannot serve the dashboard tests:\n  ${found.join('\n  ')}`);
  return run;
}
