// The Compare runs tab's data code in plain Node (webview/src/data/compare.ts): eval results, time
// across resumes, config leaves and diffs, the runs table and its sorting, CSV.
import assert from 'node:assert/strict';
import type { EvalMetricLine, RunStatus, TrainMetricLine } from '../../native-runtime/runFiles';
import {
  bestEval, chartCsv, diffConfigs, distinctNames, evalMetricKeys, finalEval, flattenConfig, runsTable, seriesOf, sortRows, trainingSeconds, varyingFields, xOf,
  type ComparedRun,
} from '../../webview/src/data/compare';

const status = (over: Partial<RunStatus> = {}): RunStatus => ({
  run_id: 'r', name: 'run', state: 'completed', pid: 1, method: 'lily', task: 'sequence-classification', step: 30, total_steps: 30, epoch: 1,
  started_at: '2026-01-02T03:04:05.000Z', updated_at: '2026-01-02T03:05:05.000Z', ended_at: '2026-01-02T03:05:05.000Z', device: 'cpu', config_path: '/c', trainable_params: 100, ...over,
});
const tr = (step: number, time_s: number, loss = 1 / step): TrainMetricLine => ({ type: 'train', step, epoch: 0, loss, lr: 1e-3, grad_norm: 1, samples_per_s: 1, tokens_per_s: 1, time_s });
const ev = (step: number, time_s: number, metrics: Record<string, number>): EvalMetricLine => ({ type: 'eval', step, epoch: 0, metrics, time_s });
function run(name: string, over: Partial<ComparedRun> = {}): ComparedRun {
  return { runDir: `/runs/${name}`, name, status: status({ name }), config: { name, model: { path: 'm.onnx', task: 'sequence-classification' }, data: { train: 't' }, adapter: { method: 'lily', target_modules: ['q'], r: 8 }, training: { lr: 1e-3 } } as any, train: [], evals: [], ...over };
}

describe('compare runs data', () => {
  it('final and best eval ignore the step-0 evaluation; loss-like metrics are best when lowest', () => {
    const r = run('a', { evals: [ev(0, 0, { accuracy: 0.9, loss: 0.1 }), ev(10, 1, { accuracy: 0.6, loss: 0.7 }), ev(20, 2, { accuracy: 0.8, loss: 0.5 }), ev(30, 3, { accuracy: 0.7, loss: 0.6 })] });
    assert.equal(finalEval(r, 'accuracy'), 0.7);
    assert.deepEqual(bestEval(r, 'accuracy'), { value: 0.8, step: 20 });
    assert.deepEqual(bestEval(r, 'loss'), { value: 0.5, step: 20 });
    assert.equal(finalEval(run('b', { evals: [ev(0, 0, { accuracy: 0.5 })] }), 'accuracy'), undefined, 'only the before-training eval: no result yet');
    assert.deepEqual(evalMetricKeys([r, run('c', { evals: [ev(10, 1, { f1: 1, perplexity: 2 })] })]), ['accuracy', 'f1', 'perplexity', 'loss']);
  });

  it('adds up training time across a resume (time_s restarts with each process) for the time and wall-clock axes', () => {
    const r = run('a', { train: [tr(10, 1), tr(20, 2), tr(30, 0.5), tr(40, 1.5)], evals: [ev(20, 2.2, { loss: 1 })] });
    const pts = seriesOf(r, 'train:loss');
    assert.deepEqual(pts.map((p) => p.time_s), [1, 2, 2.7, 3.7], 'the resumed segment continues after the eval at 2.2 s');
    assert.equal(trainingSeconds(r), 3.7);
    assert.deepEqual(seriesOf(r, 'eval:loss').map((p) => p.time_s), [2.2]);
    const start = Date.parse('2026-01-02T03:04:05.000Z');
    assert.equal((xOf(pts[3], 'wall') as Date).getTime(), start + 3700);
    assert.equal(xOf(pts[3], 'step'), 40);
    assert.equal(xOf(pts[3], 'time'), 3.7);
    // No metric lines: the times in status.json.
    assert.equal(trainingSeconds(run('b')), 60);
  });

  it('flattens configs to leaves and diffs two of them', () => {
    assert.deepEqual([...flattenConfig({ a: { b: 1, c: [1, 2] }, d: 'x' })], [['a.b', '1'], ['a.c', '[1,2]'], ['d', '"x"']]);
    const { rows, same } = diffConfigs({ training: { lr: 1, seed: 1 }, adapter: { r: 8 } } as any, { training: { lr: 2, seed: 1 }, adapter: { r: 8, lora_alpha: 16 } } as any);
    assert.deepEqual(rows, [{ path: 'adapter.lora_alpha', a: undefined, b: '16' }, { path: 'training.lr', a: '1', b: '2' }]);
    assert.equal(same, 2);
  });

  it('tabulates the varying hyperparameters (not the name or output folder) beside the core ones', () => {
    const a = run('a');
    const b = run('b', { config: { ...a.config!, name: 'b', output: { dir: '/elsewhere' }, training: { lr: 1e-2, warmup_steps: 5 } } as any });
    assert.deepEqual(varyingFields([a, b]), ['training.warmup_steps']);
    const { columns, rows } = runsTable([a, b]);
    const ids = columns.map((c) => c.id);
    assert.ok(ids.includes('config:training.lr') && ids.includes('config:training.warmup_steps') && !ids.includes('config:name'));
    assert.equal(columns.find((c) => c.id === 'config:training.lr')!.numeric, true);
    assert.equal(columns.find((c) => c.id === 'config:adapter.method')!.numeric, false);
    assert.deepEqual(rows.map((r) => r.cells['config:training.lr']), [1e-3, 1e-2]);
    assert.deepEqual(rows.map((r) => r.cells['config:training.warmup_steps']), [undefined, 5]);
  });

  it('sorts numbers as numbers and text naturally, both ways, stable, empty cells last', () => {
    const rows = [{ runDir: 'a', cells: { v: 10, t: 'run 10' } }, { runDir: 'b', cells: { v: undefined, t: undefined } }, { runDir: 'c', cells: { v: 9, t: 'run 9' } }, { runDir: 'd', cells: { v: 10, t: 'run 1' } }];
    const order = (col: string, dir: 'asc' | 'desc') => sortRows(rows, col, dir).map((r) => r.runDir).join('');
    assert.equal(order('v', 'asc'), 'cadb');
    assert.equal(order('v', 'desc'), 'adcb');
    assert.equal(order('t', 'asc'), 'dcab');
    assert.equal(order('t', 'desc'), 'acdb');
  });

  it('writes CSV with quoting (RFC 4180) and tells runs with one name apart', () => {
    const a = run('lr, "fast"', { train: [tr(10, 1, 0.5)] });
    const b = run('lr, "fast"', { runDir: '/runs/b', train: [tr(10, 2, 0.25)], sweep: { sweep_id: 'S', name: 'n', index: 0, total: 1, overrides: {}, config_path: '/c' } });
    assert.deepEqual(distinctNames([a, b]), ['lr, "fast"', 'lr, "fast" (2)']);
    assert.equal(
      chartCsv('train:loss', [a, b]),
      'run,run_dir,sweep_id,metric,step,time_s,wall_clock,value\r\n' +
      '"lr, ""fast""",/runs/lr, "fast",,train:loss,10,1,2026-01-02T03:04:06.000Z,0.5\r\n'.replace('/runs/lr, "fast"', '"/runs/lr, ""fast"""') +
      '"lr, ""fast"" (2)",/runs/b,S,train:loss,10,2,2026-01-02T03:04:07.000Z,0.25\r\n',
    );
  });
});
