// The packed-export list (native-runtime/config/packedExports.ts) is the one the Python exporter
// serves, and `lily import --packing` refuses other model types before any Python starts.
import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { PACKED_EXPORTS, packedModelTypes } from '../../native-runtime/config/packedExports';
import { VENV_PYTHON } from '../helpers/pyarrowWrite';
import { tempDir } from '../helpers/tempDir';
import { lily } from './workspace';

const TORCH_DIR = path.resolve(__dirname, '../../native-runtime/torch');

/** A folder with only a config.json: enough for every check made before the exporter starts. */
function configOnly(root: string, name: string, config: object): string {
  const dir = path.join(root, name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
  return dir;
}

describe('cli: packed exports', function () {
  this.timeout(120_000);

  it('lists exactly the model types hf_export.py exports packed, per optimum task', () => {
    // hf_export.py picks doc_classifiers for text-classification and doc_decoders for text-generation.
    const code = [
      'import json, sys', `sys.path.insert(0, ${JSON.stringify(TORCH_DIR)})`, 'import doc_classifiers, doc_decoders',
      'print(json.dumps({"text-classification": sorted(doc_classifiers.PACKED), "text-generation": sorted(doc_decoders.PACKED)}))',
    ].join('\n');
    const py = spawnSync(VENV_PYTHON, ['-c', code], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1' } });
    assert.strictEqual(py.status, 0, py.stderr);
    const python = JSON.parse(py.stdout.trim().split('\n').pop()!) as Record<string, string[]>;
    const ours = Object.fromEntries(PACKED_EXPORTS.map((f) => [f.optimumTask, packedModelTypes(f)]));
    assert.deepStrictEqual(ours, python);
  });

  it('--packing for a model type without a packed export exits 2 before Python starts, naming the config and the supported types', async () => {
    const ws = tempDir('lily-packed-refuse-');
    const gpt2 = configOnly(ws, 'gpt2', { architectures: ['GPT2LMHeadModel'], model_type: 'gpt2' });
    const distil = configOnly(ws, 'distil', { architectures: ['DistilBertForSequenceClassification'], model_type: 'distilbert', id2label: { 0: 'a', 1: 'b' } });
    const tokens = configOnly(ws, 'tok', { architectures: ['BertForTokenClassification'], model_type: 'bert' });
    // A Python that cannot start: reaching the exporter would fail with "no Python found" instead.
    const noPython = path.join(ws, 'no-such-python');
    const r1 = await lily(['import', gpt2, '--packing', '--python', noPython, '--json'], ws);
    assert.strictEqual(r1.code, 2, r1.stderr);
    assert.match(r1.stderr, new RegExp(`${path.join(gpt2, 'config.json')}: --packing: architecture GPT2LMHeadModel \\(model_type "gpt2"\\) has no packed export for text-generation .*model types with one: llama, mistral, qwen2\\.`));
    assert.deepStrictEqual(JSON.parse(r1.stdout.trim().split('\n').pop()!).error.kind, 'unsupported-architecture');
    const r2 = await lily(['import', distil, '--packing', '--python', noPython], ws);
    assert.strictEqual(r2.code, 2, r2.stderr);
    assert.match(r2.stderr, /model_type "distilbert"\) has no packed export for text-classification \(a document-number attention mask and a score per document\); model types with one: bert, electra, roberta\./);
    const r3 = await lily(['import', tokens, '--packing', '--python', noPython], ws);
    assert.strictEqual(r3.code, 2, r3.stderr);
    assert.match(r3.stderr, /--packing: exports a sequence classifier \(BERT, RoBERTa, ELECTRA\) or a causal LM \(Llama, Qwen2, Mistral\) for data\.packing; BertForTokenClassification is imported as token-classification: leave out --packing/);
    for (const r of [r1, r2, r3]) assert.doesNotMatch(r.stderr, /no Python found/);
    assert.deepStrictEqual(fs.readdirSync(ws).sort(), ['distil', 'gpt2', 'tok'], 'nothing written');
  });

  it('--help names the supported families from the list', async () => {
    const r = await lily(['import', '--help'], process.cwd());
    assert.strictEqual(r.code, 0, r.stderr);
    assert.match(r.stdout.replace(/\s+/g, ' '), /sequence classifiers \(BERT, RoBERTa, ELECTRA\) and causal LMs \(Llama, Qwen2, Mistral\)/);
  });
});
