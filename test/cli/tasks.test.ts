// The other tasks through `lily train`: causal LM (labels = input ids, shifted in the loss;
// perplexity) on the oracle's GPT-like decoder, and regression (MSE, Pearson) on a 1-output encoder.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { readJsonl } from '../../native-runtime/io/atomic';
import type { MetricLine, RouterLine, RunStatus } from '../../native-runtime/runFiles';
import { checkMetricLine, checkRouterLine, checkStatus } from './runShape';
import { lily, makeWorkspace, oracleModel, sentimentRecords } from './workspace';

function runOf(runsDir: string): string {
  return path.join(runsDir, fs.readdirSync(runsDir)[0]);
}

describe('cli: other tasks', function () {
  this.timeout(120000);

  it('causal LM: trains, lowers the eval loss, reports perplexity', async () => {
    const ws = makeWorkspace({
      model: { task: 'causal-lm', labels: undefined },
      adapter: { target_modules: ['q_proj', 'v_proj'], modules_to_save: [] },
      training: { max_steps: 6, eval_every: 3, lr: 2e-2 },
    }, { modelDir: oracleModel('decoder', {}) });
    const r = await lily(['train', ws.config], ws.dir);
    assert.strictEqual(r.code, 0, r.stderr);
    const runDir = runOf(ws.runsDir);
    const status = JSON.parse(fs.readFileSync(path.join(runDir, 'status.json'), 'utf8')) as RunStatus;
    checkStatus(status);
    assert.strictEqual(status.task, 'causal-lm');
    const metrics = readJsonl<MetricLine>(path.join(runDir, 'metrics.jsonl'));
    for (const l of metrics) checkMetricLine(l, 'causal-lm');
    const evals = metrics.filter((l): l is Extract<MetricLine, { type: 'eval' }> => l.type === 'eval');
    assert.ok(Math.abs(evals[0].metrics.perplexity - Math.exp(evals[0].metrics.loss)) < 1e-9);
    assert.ok(evals[evals.length - 1].metrics.loss < evals[0].metrics.loss, 'eval loss went down');
    for (const l of readJsonl<RouterLine>(path.join(runDir, 'router.jsonl'))) checkRouterLine(l, { q_proj: 2, v_proj: 2 }, 2);
  });

  it('regression: float labels, MSE and Pearson', async () => {
    const ws = makeWorkspace({ model: { labels: undefined, task: 'regression' }, training: { max_steps: 4, lr: 1e-2 } },
      { modelDir: oracleModel('encoder', { num_labels: 1 }) });
    const score = (rows: Array<{ text: string; label: string }>) =>
      rows.map((x) => JSON.stringify({ text: x.text, label: x.label === 'positive' ? 1.5 : -0.5 })).join('\n') + '\n';
    fs.writeFileSync(path.join(ws.dir, 'train.jsonl'), score(sentimentRecords(32)));
    fs.writeFileSync(path.join(ws.dir, 'eval.jsonl'), score(sentimentRecords(8, 1000)));
    const r = await lily(['train', ws.config, '--json'], ws.dir);
    assert.strictEqual(r.code, 0, r.stderr);
    const metrics = readJsonl<MetricLine>(path.join(runOf(ws.runsDir), 'metrics.jsonl'));
    for (const l of metrics) checkMetricLine(l, 'regression');
    const last = metrics.filter((l): l is Extract<MetricLine, { type: 'eval' }> => l.type === 'eval').pop()!;
    assert.strictEqual(last.metrics.mse, last.metrics.loss);
    assert.ok(last.metrics.pearson >= -1 && last.metrics.pearson <= 1);
  });
});
