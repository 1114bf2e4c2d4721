// Checks run-directory files against their documented shapes (native-runtime/runFiles.ts),
// field by field, so a missing or mistyped field fails a test instead of a dashboard.
import * as assert from 'assert';
import type { MetricLine, RouterLine, RunStatus } from '../../native-runtime/runFiles';

type Kind = 'string' | 'number' | 'object' | 'boolean';

function fields(obj: Record<string, unknown>, required: Record<string, Kind>, optional: Record<string, Kind>, what: string): void {
  for (const [k, kind] of Object.entries(required)) {
    assert.ok(k in obj, `${what}: missing required field "${k}"`);
    assert.strictEqual(typeof obj[k], kind, `${what}.${k}: expected ${kind}, got ${JSON.stringify(obj[k])}`);
    if (kind === 'number') assert.ok(Number.isFinite(obj[k]), `${what}.${k} is not finite`);
  }
  for (const [k, kind] of Object.entries(optional)) {
    if (k in obj) assert.strictEqual(typeof obj[k], kind, `${what}.${k}: expected ${kind}, got ${JSON.stringify(obj[k])}`);
  }
  const known = new Set([...Object.keys(required), ...Object.keys(optional)]);
  for (const k of Object.keys(obj)) assert.ok(known.has(k), `${what}: undocumented field "${k}"`);
}

export function checkStatus(s: RunStatus): void {
  fields(s as unknown as Record<string, unknown>, {
    run_id: 'string', name: 'string', state: 'string', pid: 'number', method: 'string', task: 'string', step: 'number',
    total_steps: 'number', epoch: 'number', started_at: 'string', updated_at: 'string', device: 'string',
    config_path: 'string', trainable_params: 'number',
  }, {
    ended_at: 'string', error: 'string', device_note: 'string', loss: 'number', samples_per_s: 'number', eta_s: 'number',
    last_checkpoint: 'string', eval: 'object', eval_before: 'object',
  }, 'status.json');
  assert.ok(['running', 'completed', 'failed', 'stopped'].includes(s.state));
  assert.ok(['lily', 'lora'].includes(s.method));
  for (const t of [s.started_at, s.updated_at, s.ended_at]) if (t !== undefined) assert.ok(!Number.isNaN(Date.parse(t)), `bad ISO time ${t}`);
  for (const m of [s.eval, s.eval_before]) if (m) for (const v of Object.values(m)) assert.strictEqual(typeof v, 'number');
}

export function checkMetricLine(l: MetricLine, task: string): void {
  if (l.type === 'train') {
    fields(l as unknown as Record<string, unknown>, {
      type: 'string', step: 'number', epoch: 'number', loss: 'number', lr: 'number', grad_norm: 'number',
      samples_per_s: 'number', tokens_per_s: 'number', time_s: 'number',
    }, {}, 'metrics.jsonl train line');
  } else {
    assert.strictEqual(l.type, 'eval');
    fields(l as unknown as Record<string, unknown>, { type: 'string', step: 'number', epoch: 'number', metrics: 'object', time_s: 'number' }, {}, 'metrics.jsonl eval line');
    const expected = task.endsWith('classification') ? ['loss', 'accuracy', 'f1'] : task === 'regression' ? ['loss', 'mse', 'pearson'] : ['loss', 'perplexity'];
    for (const k of expected) assert.strictEqual(typeof l.metrics[k], 'number', `eval metrics lack ${k}`);
  }
}

export function checkRouterLine(l: RouterLine, layersPerTarget: Record<string, number>, numB: number): void {
  fields(l as unknown as Record<string, unknown>, { step: 'number', targets: 'object' }, {}, 'router.jsonl line');
  assert.deepStrictEqual(Object.keys(l.targets).sort(), Object.keys(layersPerTarget).sort());
  for (const [t, rows] of Object.entries(l.targets)) {
    assert.strictEqual(rows.length, layersPerTarget[t], `router.jsonl: ${t} rows`);
    for (const row of rows) {
      assert.strictEqual(row.length, numB);
      assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-5, `router probabilities of ${t} do not sum to 1: ${row}`);
    }
  }
}
