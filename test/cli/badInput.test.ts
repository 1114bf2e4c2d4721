// Invalid input gives exit code 2, a message naming the file and the field or line, and no run
// directory.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { lily, makeWorkspace, oracleModel, sentimentRecords, tinyEncoder, type Workspace } from './workspace';

function editConfig(ws: Workspace, edit: (c: any) => void): void {
  const c = JSON.parse(fs.readFileSync(ws.config, 'utf8'));
  edit(c);
  fs.writeFileSync(ws.config, JSON.stringify(c, null, 2));
}

async function expectInvalid(ws: Workspace, args: string[], ...patterns: RegExp[]): Promise<string> {
  const r = await lily(args, ws.dir);
  assert.strictEqual(r.code, 2, `exit code (stderr: ${r.stderr})`);
  for (const p of patterns) assert.match(r.stderr, p);
  const runs = fs.existsSync(ws.runsDir) ? fs.readdirSync(ws.runsDir) : [];
  assert.deepStrictEqual(runs, [], 'no run directory may be left behind');
  return r.stderr;
}

describe('cli: invalid input', function () {
  this.timeout(120000);
  before(() => { tinyEncoder(); });

  it('a config with a missing field', async () => {
    const ws = makeWorkspace();
    editConfig(ws, (c) => { delete c.data; });
    await expectInvalid(ws, ['train', ws.config], /tiny\.lily\.json/, /data/);
  });

  it('a field with the wrong type', async () => {
    const ws = makeWorkspace();
    editConfig(ws, (c) => { c.training.batch_size = 'eight'; });
    await expectInvalid(ws, ['train', ws.config], /tiny\.lily\.json/, /training\.batch_size/);
  });

  it('data.packing on a model not exported for packing names the field and the export that packs (from the packed-export list)', async () => {
    const ws = makeWorkspace({ data: { packing: true } });
    await expectInvalid(ws, ['train', ws.config], /tiny\.lily\.json/, /data\.packing/,
      /lily import MODEL --packing, for BERT, RoBERTa, ELECTRA: document-number mask, position_ids, document_starts\)/);
    const decoder = makeWorkspace({
      model: { task: 'causal-lm', labels: undefined }, data: { packing: true },
      adapter: { target_modules: ['q_proj', 'v_proj'], modules_to_save: [] },
    }, { modelDir: oracleModel('decoder', {}) });
    await expectInvalid(decoder, ['train', decoder.config], /data\.packing/, /lily import MODEL --packing, for Llama, Qwen2, Mistral: document-number mask, position_ids\)/);
  });

  it('a misspelled field, with the suggestion', async () => {
    const ws = makeWorkspace();
    editConfig(ws, (c) => { c.adapter.num_b = 2; });
    await expectInvalid(ws, ['train', ws.config], /tiny\.lily\.json/, /num_b/, /num_B/);
  });

  it('a target module that matches no layer lists the available suffixes', async () => {
    const ws = makeWorkspace({ adapter: { target_modules: ['valu'] } });
    await expectInvalid(ws, ['train', ws.config], /tiny\.lily\.json/, /adapter\.target_modules/, /"valu"/, /Available suffixes: .*attention\.self\.value/);
  });

  it('model.inputs leaving out an input of the model names the field and the missing input', async () => {
    const ws = makeWorkspace({ model: { inputs: ['input_ids'] } });
    await expectInvalid(ws, ['train', ws.config], /tiny\.lily\.json/, /model\.inputs/, /"attention_mask"/);
  });

  it('masked routing on a model without an attention mask is a config error on adapter.routing', async () => {
    const ws = makeWorkspace({ adapter: { target_modules: ['qkv'], routing: 'masked', modules_to_save: [] } as object },
      { modelDir: oracleModel('vit', { num_labels: 2 }) });
    const images = (n: number) => Array.from({ length: n }, (_, i) => JSON.stringify({
      pixel_values: Array.from({ length: 3 }, (_c, c) => Array.from({ length: 16 }, (_y, y) => Array.from({ length: 16 }, (_x, x) => ((i + c + y * x) % 7) / 7))),
      label: i % 2 ? 'positive' : 'negative',
    })).join('\n') + '\n';
    fs.writeFileSync(path.join(ws.dir, 'train.jsonl'), images(8));
    fs.writeFileSync(path.join(ws.dir, 'eval.jsonl'), images(4));
    await expectInvalid(ws, ['train', ws.config], /tiny\.lily\.json/, /adapter\.routing/, /no attention-mask input/);
  });

  it('a task whose loss does not fit the model output is a config error on model.task', async () => {
    const ws = makeWorkspace({ model: { task: 'regression', labels: undefined } });
    const scores = (n: number, offset: number) => sentimentRecords(n, offset).map((r) => JSON.stringify({ text: r.text, label: r.label === 'positive' ? 1 : 0 })).join('\n') + '\n';
    fs.writeFileSync(path.join(ws.dir, 'train.jsonl'), scores(16, 0));
    fs.writeFileSync(path.join(ws.dir, 'eval.jsonl'), scores(4, 1000));
    await expectInvalid(ws, ['train', ws.config], /tiny\.lily\.json/, /model\.task/, /regression/);
  });

  it('a data file that does not exist', async () => {
    const ws = makeWorkspace({ data: { train: 'missing.jsonl' } });
    await expectInvalid(ws, ['train', ws.config], /tiny\.lily\.json/, /data\.train/, /missing\.jsonl/);
  });

  it('a config file that does not exist', async () => {
    const ws = makeWorkspace();
    await expectInvalid(ws, ['train', path.join(ws.dir, 'nope.lily.json')], /nope\.lily\.json/);
  });

  it('a truncated model file', async () => {
    const ws = makeWorkspace();
    const model = path.join(ws.dir, 'model.onnx');
    const bytes = fs.readFileSync(model);
    fs.writeFileSync(model, bytes.subarray(0, Math.floor(bytes.length / 2)));
    await expectInvalid(ws, ['train', ws.config], /model\.onnx/, /model\.path|truncated/);
    const r = await lily(['targets', model], ws.dir);
    assert.strictEqual(r.code, 2);
    assert.match(r.stderr, /model\.onnx.*truncated/);
  });

  it('a malformed data line names FILE:LINE', async () => {
    const ws = makeWorkspace();
    const train = path.join(ws.dir, 'train.jsonl');
    const lines = fs.readFileSync(train, 'utf8').split('\n');
    lines[4] = '{"text": "the movie was good", "label": ';
    fs.writeFileSync(train, lines.join('\n'));
    await expectInvalid(ws, ['train', ws.config], /train\.jsonl:5: invalid JSON/);
  });

  it('a label outside the label list names FILE:LINE and the field', async () => {
    const ws = makeWorkspace();
    fs.appendFileSync(path.join(ws.dir, 'eval.jsonl'), JSON.stringify({ text: 'meh', label: 'neutral' }) + '\n');
    await expectInvalid(ws, ['train', ws.config], /eval\.jsonl:9: field "label": label "neutral" is not one of \["negative","positive"\]/);
  });

  it('a --run-dir that is not empty is refused before the model is loaded', async () => {
    const ws = makeWorkspace();
    const runDir = path.join(ws.dir, 'taken');
    fs.mkdirSync(runDir);
    fs.writeFileSync(path.join(runDir, 'notes.txt'), 'keep me');
    const stderr = await expectInvalid(ws, ['train', ws.config, '--run-dir', 'taken'], /--run-dir .*taken.* is not empty/, /--resume/);
    assert.doesNotMatch(stderr, /Preparing/);
    assert.deepStrictEqual(fs.readdirSync(runDir), ['notes.txt']);
  });

  it('bad command lines', async () => {
    const ws = makeWorkspace();
    await expectInvalid(ws, ['train', ws.config, '--max-step', '3'], /unknown option --max-step.*--max-steps/);
    await expectInvalid(ws, ['train', ws.config, '--device', 'tpu'], /--device expects one of/);
    await expectInvalid(ws, ['trian', ws.config], /unknown command "trian".*"train"/);
    await expectInvalid(ws, ['train'], /missing argument/);
    await expectInvalid(ws, ['train', ws.config, '--resume', 'runs/x', '--max-steps', '3'], /--resume continues the run's own schedule/);
  });
});
