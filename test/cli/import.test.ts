// `lily import` end to end: tiny save_pretrained folders (BERT classifier, GPT-2, Llama; built by
// transformers, random weights) are exported by the real optimum in the project venv, train with
// the engine, and every user-fixable failure exits 2 with a message that says what to do.
import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { readJsonl } from '../../native-runtime/io/atomic';
import { loadUserModel } from '../../native-runtime/cli/model';
import { EXPORTER_PINS } from '../../native-runtime/cli/pythonExporter';
import type { MetricLine } from '../../native-runtime/runFiles';
import { VENV_PYTHON, writeWithPyarrow } from '../helpers/pyarrowWrite';
import { lily, sentimentRecords } from './workspace';
import { tempDir as scratchDir } from '../helpers/tempDir';

const TINY_HF = path.resolve(__dirname, '../../scripts/oracle/tiny_hf.py');
let zoo: string;

function tempDir(prefix: string): string {
  return scratchDir(prefix);
}

/** Edits the proposed config for a short, small run and trains it; returns the eval losses (before, after). */
async function trainProposal(dir: string, configName: string, training: object = {}): Promise<number[]> {
  const file = path.join(dir, configName);
  const cfg = JSON.parse(fs.readFileSync(file, 'utf8'));
  cfg.data.max_length = 16;
  cfg.training = { max_steps: 3, batch_size: 4, log_every: 1, lr: 1e-2, ...training };
  cfg.runtime = { device: 'cpu', threads: 1 };
  fs.writeFileSync(file, JSON.stringify(cfg));
  const r = await lily(['train', configName], dir);
  assert.strictEqual(r.code, 0, r.stderr);
  const runs = path.join(dir, '.lily', 'runs');
  const [run] = fs.readdirSync(runs);
  const lines = readJsonl<MetricLine>(path.join(runs, run, 'metrics.jsonl'));
  const train = lines.flatMap((l) => (l.type === 'train' ? [l.loss] : []));
  assert.strictEqual(train.length, 3);
  for (const l of train) assert.ok(Number.isFinite(l), String(train));
  const evals = lines.flatMap((l) => (l.type === 'eval' ? [l.metrics.loss] : []));
  assert.strictEqual(evals.length, 2, 'evaluated before and after');
  return evals;
}

const jsonl = (rows: object[]) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';


/** Pre-tokenized eval records (ids of tiny_hf.py's vocabulary), so that transformers reads the same rows. */
const EVAL_IDS = [[2, 4, 5, 6, 7, 16, 3], [2, 15, 6, 10, 13, 3], [2, 14, 5, 6, 8, 3], [2, 11, 12, 3]];

/** Runs `code` in the venv's Python (one thread) with `args` and returns the number it prints. */
function pythonNumber(code: string, ...args: string[]): number {
  const py = spawnSync(VENV_PYTHON, ['-c', code, ...args], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1' } });
  assert.strictEqual(py.status, 0, py.stderr);
  return Number(py.stdout.trim());
}
describe('cli: lily import', function () {
  this.timeout(240000);

  before(() => {
    zoo = tempDir('lily-hf-zoo-');
    const r = spawnSync(VENV_PYTHON, [TINY_HF, '--out', zoo, '--kinds', 'bert,gpt2,llama,bert-mlm'], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1' } });
    assert.strictEqual(r.status, 0, r.stderr);
  });

  it('exports a BERT classifier folder with its labels, proposes a config, and trains it on Parquet data', async () => {
    const ws = tempDir('lily-import-ws-');
    const r = await lily(['import', path.join(zoo, 'bert'), '--python', VENV_PYTHON, '--json'], ws);
    assert.strictEqual(r.code, 0, r.stderr);
    const summary = JSON.parse(r.stdout.trim().split('\n').pop()!);
    const dir = path.join(ws, 'bert-onnx');
    assert.strictEqual(summary.modelDir, dir);
    for (const f of ['model.onnx', 'tokenizer.json', 'lily-import.json']) assert.ok(fs.existsSync(path.join(dir, f)), f);
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'lily-import.json'), 'utf8'));
    assert.strictEqual(manifest.source, path.join(zoo, 'bert'));
    assert.strictEqual(manifest.architecture, 'BertForSequenceClassification');
    assert.strictEqual(manifest.task, 'sequence-classification');
    assert.deepStrictEqual(manifest.labels, ['negative', 'positive']);
    assert.match(r.stderr, /\[lily import .*exporting/, 'the exporter\'s log is relayed on stderr');

    const cfg = JSON.parse(fs.readFileSync(path.join(ws, 'bert.lily.json'), 'utf8'));
    assert.deepStrictEqual(cfg.model, { path: 'bert-onnx/model.onnx', task: 'sequence-classification', num_labels: 2, labels: ['negative', 'positive'] });
    assert.deepStrictEqual(cfg.adapter.target_modules, ['attention.self.query', 'attention.self.value']);
    assert.ok(summary.init.lora_rank_at_budget >= 1);

    cfg.data.train = 'train.parquet';
    cfg.data.eval = 'eval.jsonl';
    fs.writeFileSync(path.join(ws, 'bert.lily.json'), JSON.stringify(cfg));
    writeWithPyarrow({ kind: 'parquet', rows: sentimentRecords(16), out: path.join(ws, 'train.parquet') });
    fs.writeFileSync(path.join(ws, 'eval.jsonl'), jsonl(sentimentRecords(8, 1000)));
    await trainProposal(ws, 'bert.lily.json');
  });

  it('--packing exports the BERT classifier for data.packing: its step-0 eval equals transformers\' on the same records, and packed training runs', async () => {
    const ws = tempDir('lily-import-pack-');
    const r = await lily(['import', path.join(zoo, 'bert'), '--packing', '--python', VENV_PYTHON], ws);
    assert.strictEqual(r.code, 0, r.stderr);
    const dir = path.join(ws, 'bert-packed-onnx');
    assert.strictEqual(JSON.parse(fs.readFileSync(path.join(dir, 'lily-import.json'), 'utf8')).packing, true);
    const model = loadUserModel(path.join(dir, 'model.onnx'));
    assert.deepStrictEqual(model.graph.inputs.map((i) => i.name), ['input_ids', 'attention_mask', 'position_ids', 'document_starts']);
    const cfg = JSON.parse(fs.readFileSync(path.join(ws, 'bert-packed.lily.json'), 'utf8'));
    assert.strictEqual(cfg.data.packing, true, 'the proposal packs');
    assert.strictEqual(cfg.model.task, 'sequence-classification');
    assert.deepStrictEqual(cfg.adapter.modules_to_save, ['classifier']);
    const evalRows = EVAL_IDS.map((ids, k) => ({ input_ids: ids, label: k % 2 ? 'negative' : 'positive' }));
    fs.writeFileSync(path.join(ws, 'train.jsonl'), jsonl(sentimentRecords(16)));
    fs.writeFileSync(path.join(ws, 'eval.jsonl'), jsonl(evalRows));
    const [before] = await trainProposal(ws, 'bert-packed.lily.json', { eval_every: 3 });
    // transformers' BertForSequenceClassification on each record alone: the same mean loss (the
    // adapter starts as the identity, B = 0).
    const code = [
      'import json, sys, torch', 'from transformers import BertForSequenceClassification',
      'm = BertForSequenceClassification.from_pretrained(sys.argv[1]).eval()',
      'rows = [json.loads(l) for l in open(sys.argv[2])]',
      'with torch.no_grad(): print(sum(m(input_ids=torch.tensor([r["input_ids"]]), labels=torch.tensor([1 if r["label"] == "positive" else 0])).loss.item() for r in rows) / len(rows))',
    ].join('\n');
    const theirs = pythonNumber(code, path.join(zoo, 'bert'), path.join(ws, 'eval.jsonl'));
    assert.ok(Math.abs(before - theirs) < 1e-5, `eval loss at step 0: ours ${before}, transformers ${theirs}`);
  });

  it('--packing exports the Llama decoder with a document-number mask: its step-0 eval equals transformers\' on the same records, and packed training runs', async () => {
    const ws = tempDir('lily-import-pack-');
    const r = await lily(['import', path.join(zoo, 'llama'), '--packing', '--python', VENV_PYTHON], ws);
    assert.strictEqual(r.code, 0, r.stderr);
    const dir = path.join(ws, 'llama-packed-onnx');
    assert.strictEqual(JSON.parse(fs.readFileSync(path.join(dir, 'lily-import.json'), 'utf8')).packing, true);
    assert.deepStrictEqual(loadUserModel(path.join(dir, 'model.onnx')).graph.inputs.map((i) => i.name), ['input_ids', 'attention_mask', 'position_ids']);
    const cfg = JSON.parse(fs.readFileSync(path.join(ws, 'llama-packed.lily.json'), 'utf8'));
    assert.strictEqual(cfg.data.packing, true, 'the proposal packs');
    assert.strictEqual(cfg.model.task, 'causal-lm');
    const evalRows = EVAL_IDS.map((ids) => ({ input_ids: ids }));
    fs.writeFileSync(path.join(ws, 'train.jsonl'), jsonl(sentimentRecords(16).map((x) => ({ text: x.text }))));
    fs.writeFileSync(path.join(ws, 'eval.jsonl'), jsonl(evalRows));
    const [before] = await trainProposal(ws, 'llama-packed.lily.json', { eval_every: 3 });
    // transformers' LlamaForCausalLM on each record alone: the same token-mean loss.
    const code = [
      'import json, sys, torch', 'from transformers import LlamaForCausalLM',
      'm = LlamaForCausalLM.from_pretrained(sys.argv[1]).eval()',
      'rows = [json.loads(l)["input_ids"] for l in open(sys.argv[2])]',
      'with torch.no_grad(): print(sum(m(input_ids=torch.tensor([r]), labels=torch.tensor([r])).loss.item() * (len(r) - 1) for r in rows) / sum(len(r) - 1 for r in rows))',
    ].join('\n');
    const theirs = pythonNumber(code, path.join(zoo, 'llama'), path.join(ws, 'eval.jsonl'));
    assert.ok(Math.abs(before - theirs) < 1e-5, `eval loss at step 0: ours ${before}, transformers ${theirs}`);
  });

  it('--packing is refused, exit 2, for a model type without a packed export and for a task packing does not serve', async () => {
    const ws = tempDir('lily-import-pack-');
    const gpt2 = await lily(['import', path.join(zoo, 'gpt2'), '--packing', '--python', VENV_PYTHON], ws);
    assert.strictEqual(gpt2.code, 2, gpt2.stderr);
    assert.match(gpt2.stderr, /--packing: architecture GPT2LMHeadModel \(model_type "gpt2"\) has no packed export for text-generation.*llama, mistral, qwen2/);
    const reg = await lily(['import', path.join(zoo, 'bert'), '--packing', '--task', 'regression', '--python', VENV_PYTHON], ws);
    assert.strictEqual(reg.code, 2, reg.stderr);
    assert.match(reg.stderr, /--packing: .*BertForSequenceClassification is imported as regression/);
    assert.deepStrictEqual(fs.readdirSync(ws), [], 'nothing written');
  });

  for (const kind of ['gpt2', 'llama']) {
    it(`exports ${kind} as causal-lm without a KV cache, and the proposal trains`, async () => {
      const ws = tempDir('lily-import-ws-');
      const r = await lily(['import', path.join(zoo, kind), '--python', VENV_PYTHON, '--out', 'm'], ws);
      assert.strictEqual(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`Wrote ${ws}/${kind}\\.lily\\.json`));
      assert.match(r.stdout, /LoRA at the same budget: rank \d+/);
      const inputs = loadUserModel(path.join(ws, 'm', 'model.onnx')).graph.inputs.map((i) => i.name);
      assert.ok(inputs.includes('input_ids'), inputs.join());
      assert.ok(!inputs.some((n) => n.startsWith('past_key_values')), `no KV-cache inputs: ${inputs.join()}`);
      const cfg = JSON.parse(fs.readFileSync(path.join(ws, `${kind}.lily.json`), 'utf8'));
      assert.strictEqual(cfg.model.task, 'causal-lm');
      assert.strictEqual(cfg.model.labels, undefined);
      const texts = sentimentRecords(16).map((x) => ({ text: x.text }));
      fs.writeFileSync(path.join(ws, 'train.jsonl'), jsonl(texts));
      fs.writeFileSync(path.join(ws, 'eval.jsonl'), jsonl(texts.slice(0, 4)));
      // The eval texts are among the training texts: three steps must lower their loss.
      const [before, after] = await trainProposal(ws, `${kind}.lily.json`);
      assert.ok(after < before, `eval loss goes down: ${before} -> ${after}`);
    });
  }

  it('finds a model id in the hub cache (HF_HUB_CACHE, refs/main) and says when the id is not cached', async () => {
    const cache = tempDir('lily-hub-');
    const repo = path.join(cache, 'models--tiny-org--tiny-bert');
    fs.mkdirSync(path.join(repo, 'refs'), { recursive: true });
    fs.cpSync(path.join(zoo, 'bert'), path.join(repo, 'snapshots', 'abc123'), { recursive: true });
    fs.writeFileSync(path.join(repo, 'refs', 'main'), 'abc123');
    const saved = process.env.HF_HUB_CACHE;
    process.env.HF_HUB_CACHE = cache;
    try {
      // A memory limit far below the model stops before Python starts: the resolution is what is tested here.
      const r = await lily(['import', 'tiny-org/tiny-bert', '--memory-gb', '0.000001'], tempDir('lily-import-ws-'));
      assert.strictEqual(r.code, 2);
      assert.match(r.stderr, new RegExp(`Importing tiny-org/tiny-bert: BertForSequenceClassification`));
      assert.match(r.stderr, new RegExp(`${repo}/snapshots/abc123: 0M parameters`));
      const missing = await lily(['import', 'tiny-org/other'], tempDir('lily-import-ws-'));
      assert.strictEqual(missing.code, 2);
      assert.match(missing.stderr, /tiny-org\/other: not a folder, and not a model in the Hugging Face hub cache .* \(cached models: tiny-org\/tiny-bert\)/);
    } finally {
      if (saved === undefined) delete process.env.HF_HUB_CACHE; else process.env.HF_HUB_CACHE = saved;
    }
  });

  describe('failures (exit 2, a message that says what to do)', () => {
    it('no Python', async () => {
      const r = await lily(['import', path.join(zoo, 'bert'), '--python', '/nonexistent/python3'], tempDir('lily-import-ws-'));
      assert.strictEqual(r.code, 2);
      assert.match(r.stderr, /lily import: no Python found: "\/nonexistent\/python3" could not be started \(ENOENT\)\. Install Python 3\.9 or newer .* --python .*lily\.pythonPath/);
    });

    it('Python without the exporter: the exact pip line (also as JSON for VS Code\'s button)', async () => {
      const bare = tempDir('lily-bare-py-');
      const v = spawnSync(VENV_PYTHON, ['-m', 'venv', '--without-pip', bare], { encoding: 'utf8' });
      assert.strictEqual(v.status, 0, v.stderr);
      const python = path.join(bare, 'bin', 'python');
      const ws = tempDir('lily-import-ws-');
      const r = await lily(['import', path.join(zoo, 'bert'), '--python', python, '--json'], ws);
      assert.strictEqual(r.code, 2);
      const pip = `${python} -m pip install "torch==${EXPORTER_PINS.torch}" "transformers==${EXPORTER_PINS.transformers}" "onnx==${EXPORTER_PINS.onnx}" "optimum-onnx==${EXPORTER_PINS['optimum-onnx']}"`;
      assert.ok(r.stderr.includes(`lacks the ONNX exporter (missing: torch from torch, transformers from transformers, onnx from onnx, optimum.exporters.onnx from optimum-onnx). Install it with:\n  ${pip}\n`), r.stderr);
      assert.deepStrictEqual(JSON.parse(r.stdout).error.pipInstall, pip);
      assert.strictEqual(JSON.parse(r.stdout).error.kind, 'missing-exporter');
      assert.ok(!fs.existsSync(path.join(ws, 'bert-onnx')), 'nothing written');
    });

    it('the exporter pins are the project\'s pinned versions', () => {
      const req = fs.readFileSync(path.resolve(__dirname, '../../scripts/python-requirements.txt'), 'utf8');
      for (const [pkg, ver] of Object.entries(EXPORTER_PINS)) assert.ok(req.includes(`\n${pkg}==${ver}\n`), `${pkg}==${ver} in python-requirements.txt`);
    });

    it('an architecture the exporter does not support: its name and the supported list', async () => {
      const src = tempDir('lily-unsupported-');
      fs.cpSync(path.join(zoo, 'bert'), src, { recursive: true });
      const cfg = JSON.parse(fs.readFileSync(path.join(src, 'config.json'), 'utf8'));
      fs.writeFileSync(path.join(src, 'config.json'), JSON.stringify({ ...cfg, model_type: 'lilynet', architectures: ['LilyNetForSequenceClassification'] }));
      const r = await lily(['import', src, '--python', VENV_PYTHON], tempDir('lily-import-ws-'));
      assert.strictEqual(r.code, 2, r.stderr);
      assert.match(r.stderr, /architecture LilyNetForSequenceClassification \(model_type "lilynet"\) is not supported by optimum's ONNX exporter for text-classification; supported model types: .*\bbert\b.*\broberta\b/);
    });

    it('a head Lily cannot train (masked LM): its name and the supported heads, before Python starts', async () => {
      const r = await lily(['import', path.join(zoo, 'bert-mlm'), '--python', '/nonexistent/python3'], tempDir('lily-import-ws-'));
      assert.strictEqual(r.code, 2);
      assert.match(r.stderr, /config\.json: architecture BertForMaskedLM has no head Lily can train; supported heads: \*ForSequenceClassification, \*ForTokenClassification, \*ForCausalLM, \*LMHeadModel, \*ForImageClassification/);
    });

    it('a model too large for memory, before starting the export', async () => {
      const r = await lily(['import', path.join(zoo, 'bert'), '--python', '/nonexistent/python3', '--memory-gb', '0.5'], tempDir('lily-import-ws-'));
      assert.strictEqual(r.code, 2);
      // 0.5 GiB is below the runtime's own 1 GiB: refused without trying to start Python.
      assert.match(r.stderr, /exporting them needs about 1\.0 GiB of memory .* but --memory-gb allows 0\.5 GiB\. Export on a machine with more memory/);
    });

    it('a folder without config.json, and an existing model folder without --force', async () => {
      const empty = tempDir('lily-empty-');
      const r = await lily(['import', empty, '--json'], tempDir('lily-import-ws-'));
      assert.strictEqual(r.code, 2);
      assert.match(r.stderr, /no config\.json; expected a Hugging Face model folder/);
      assert.strictEqual(JSON.parse(r.stdout).error.kind, 'invalid-input', 'VS Code shows the message from the JSON line');
      assert.match(JSON.parse(r.stdout).error.message, /no config\.json/);
      const ws = tempDir('lily-import-ws-');
      fs.mkdirSync(path.join(ws, 'bert-onnx'));
      fs.writeFileSync(path.join(ws, 'bert-onnx', 'model.onnx'), 'keep me');
      const again = await lily(['import', path.join(zoo, 'bert'), '--json'], ws);
      assert.strictEqual(again.code, 2);
      assert.strictEqual(JSON.parse(again.stdout).error.kind, 'exists', 'VS Code asks whether to replace it');
      assert.match(again.stderr, /already holds a model\.onnx; pass --force/);
      assert.strictEqual(fs.readFileSync(path.join(ws, 'bert-onnx', 'model.onnx'), 'utf8'), 'keep me');
    });
  });
});
