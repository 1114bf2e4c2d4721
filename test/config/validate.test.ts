// validateConfigText: one clear message per mistake, with the exact field path.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { validateConfigText } from '../../native-runtime/config/validate';
import type { ConfigDiagnostic } from '../../native-runtime/protocol';
import { tempDir } from '../helpers/tempDir';

describe('validateConfigText', () => {
  let dir: string;
  let configPath: string;
  before(() => {
    dir = tempDir('lily-validate-');
    fs.mkdirSync(path.join(dir, 'data'));
    for (const f of ['model.onnx', 'tokenizer.json', 'data/train.jsonl', 'data/eval.csv']) fs.writeFileSync(path.join(dir, f), '');
    configPath = path.join(dir, 'sentiment.lily.json');
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const base = () => ({
    model: { path: 'model.onnx', task: 'sequence-classification', num_labels: 2, labels: ['neg', 'pos'] },
    data: { train: 'data/train.jsonl', eval: 'data/eval.csv' },
    adapter: { method: 'lily', target_modules: ['query', 'value'], r: 16, num_B: 4 } as Record<string, unknown>,
    training: { epochs: 2 } as Record<string, unknown>,
  });
  const check = (config: unknown): ConfigDiagnostic[] => validateConfigText(JSON.stringify(config, null, 2), configPath);
  const brief = (ds: ConfigDiagnostic[]) => ds.map((d) => ({ path: d.path, message: d.message, severity: d.severity, ...(d.suggestion ? { suggestion: d.suggestion } : {}) }));

  it('accepts a valid config with no diagnostics', () => {
    assert.deepStrictEqual(check(base()), []);
    const lora = base();
    lora.adapter = { method: 'lora', target_modules: 'encoder\\.layer\\.\\d+\\.attention\\.self\\.(query|value)', r: 8, lora_alpha: 16 };
    assert.deepStrictEqual(check(lora), []);
  });

  it('reports a JSON syntax error with line and column, at the file (path [])', () => {
    const ds = validateConfigText('{\n  "model": {\n    "path": "model.onnx",\n  }\n}', configPath);
    assert.deepStrictEqual(brief(ds), [{ path: [], severity: 'error', message: 'JSON syntax error at line 3, column 25: trailing comma (JSON allows none before "}" or "]"); remove it' }]);
    const unquoted = validateConfigText('{\n  model: {}\n}', configPath);
    assert.deepStrictEqual(unquoted.map((d) => d.message), ['JSON syntax error at line 2, column 3: unexpected model; property names and strings need double quotes']);
  });

  it('reports a missing required field at its own path', () => {
    const c = base() as any;
    delete c.model.path;
    assert.deepStrictEqual(brief(check(c)), [{ path: ['model', 'path'], severity: 'error', message: 'model.path: required field is missing' }]);
  });

  it('reports a missing adapter method once, with the choices', () => {
    const c = base();
    delete c.adapter.method;
    assert.deepStrictEqual(brief(check(c)), [{ path: ['adapter', 'method'], severity: 'error', message: 'adapter.method: required field is missing (one of "lily", "lora")' }]);
  });

  it('reports a wrong type with the expected bounds and the found value', () => {
    const c = base();
    c.training.batch_size = '16';
    assert.deepStrictEqual(brief(check(c)), [{ path: ['training', 'batch_size'], severity: 'error', message: 'training.batch_size: expected an integer >= 1, found "16"' }]);
  });

  it('reports num_B < 2 against the schema bound', () => {
    const c = base();
    c.adapter.num_B = 1;
    assert.deepStrictEqual(brief(check(c)), [{ path: ['adapter', 'num_B'], severity: 'error', message: 'adapter.num_B: expected an integer >= 2, found 1' }]);
  });

  it('reports stride_A < 1 and a fractional rank', () => {
    const c = base();
    c.adapter.stride_A = 0;
    c.adapter.r = 2.5;
    assert.deepStrictEqual(check(c).map((d) => d.message).sort(), [
      'adapter.r: expected an integer >= 1, found 2.5',
      'adapter.stride_A: expected an integer >= 1, found 0',
    ]);
  });

  it('reports a misspelled field with the nearest valid name as suggestion', () => {
    const c = base();
    c.adapter.stide_A = 2;
    assert.deepStrictEqual(brief(check(c)), [{ path: ['adapter', 'stide_A'], severity: 'error', message: 'adapter.stide_A: unknown field; did you mean "stride_A"?', suggestion: 'stride_A' }]);
  });

  it('reports a field of the other method against the chosen method, not a wall of union errors', () => {
    const c = base();
    c.adapter.lora_alpha = 16;
    assert.deepStrictEqual(brief(check(c)), [{ path: ['adapter', 'lora_alpha'], severity: 'error', message: 'adapter.lora_alpha: unknown field for method "lily"; it belongs to method "lora"' }]);
  });

  it('reports a bad enum value with the allowed values and a near suggestion', () => {
    const c = base();
    c.training.schedule = 'cosin';
    assert.deepStrictEqual(brief(check(c)), [{
      path: ['training', 'schedule'], severity: 'error', suggestion: 'cosine',
      message: 'training.schedule: expected one of "constant", "linear", "cosine", found "cosin"; did you mean "cosine"?',
    }]);
    const w = base() as ReturnType<typeof base> & { model: Record<string, unknown> };
    w.model.weights_dtype = 'int3';
    assert.deepStrictEqual(brief(check(w)), [{
      path: ['model', 'weights_dtype'], severity: 'error', suggestion: 'int8',
      message: 'model.weights_dtype: expected one of "float32", "bfloat16", "int8", "int4", found "int3"; did you mean "int8"?',
    }]);
    const d = base();
    d.adapter.method = 'adalora';
    assert.deepStrictEqual(check(d).map((x) => x.message), ['adapter.method: expected one of "lily", "lora", found "adalora"']);
  });

  it('folds a union type error into one message', () => {
    const c = base();
    c.adapter.target_modules = 7;
    assert.deepStrictEqual(check(c).map((d) => d.message), ['adapter.target_modules: expected an array of strings or a string, found 7']);
  });

  it('reports array item errors at the item index', () => {
    const c = base();
    c.training.betas = [0.9, 1.5];
    c.adapter.layers_to_transform = [0, -1];
    assert.deepStrictEqual(brief(check(c)).map((d) => [d.path, d.message]), [
      [['adapter', 'layers_to_transform', 1], 'adapter.layers_to_transform[1]: expected an integer >= 0, found -1'],
      [['training', 'betas', 1], 'training.betas[1]: expected a number >= 0 and < 1, found 1.5'],
    ]);
  });

  it('warns about a $schema that cannot be loaded (a copied example), and accepts one that can or a URL', () => {
    const broken = check({ ...base(), $schema: '../../schemas/lily.schema.json' });
    assert.deepStrictEqual(broken.map((d) => [d.path, d.severity]), [[['$schema'], 'warning']]);
    assert.match(broken[0].message, /^\$schema: "\.\.\/\.\.\/schemas\/lily\.schema\.json" cannot be loaded \(no file at .*schemas[\/]lily\.schema\.json\).*remove "\$schema"/);
    assert.strictEqual(check({ ...base(), $schema: 'file:///no/such/lily.schema.json' }).length, 1);
    fs.writeFileSync(path.join(dir, 'my.schema.json'), '{}');
    assert.deepStrictEqual(check({ ...base(), $schema: './my.schema.json' }), []);
    assert.deepStrictEqual(check({ ...base(), $schema: 'https://example.org/lily.schema.json' }), [], 'URLs are not checked (no network here)');
  });

  it('reports missing files relative to the config folder', () => {
    const c = base() as any;
    c.data.train = 'data/missing.jsonl';
    c.model.tokenizer = 'tok/tokenizer.json';
    c.adapter.init = 'runs/old/adapter';
    const ds = check(c);
    assert.deepStrictEqual(ds.map((d) => d.path), [['model', 'tokenizer'], ['data', 'train'], ['adapter', 'init']]);
    assert.strictEqual(ds[1].message, `data.train: file not found: ${path.join(dir, 'data/missing.jsonl')} (relative paths start at the config's folder ${dir}); fix the path or create the file`);
    assert.ok(ds.every((d) => d.severity === 'error'));
  });

  it('reports a label list that disagrees with num_labels', () => {
    const c = base();
    c.model.labels = ['neg', 'neu', 'pos'];
    assert.deepStrictEqual(brief(check(c)), [{ path: ['model', 'labels'], severity: 'error', message: 'model.labels: 3 labels given but model.num_labels is 2; make them agree (or drop num_labels)' }]);
  });

  it('accepts neither epochs nor max_steps, and warns when both are set', () => {
    const none = base() as any;
    delete none.training;
    assert.deepStrictEqual(check(none), []);
    const both = base();
    both.training.max_steps = 100;
    assert.deepStrictEqual(brief(check(both)), [{ path: ['training', 'epochs'], severity: 'warning', message: 'training.epochs: ignored because training.max_steps is set' }]);
  });

  it('reports an invalid regular expression and an empty target list', () => {
    const c = base();
    c.adapter.target_modules = 'layer\\.(query';
    const [d] = check(c);
    assert.deepStrictEqual(d.path, ['adapter', 'target_modules']);
    assert.match(d.message, /^adapter\.target_modules: not a valid regular expression \(.+\); use a list of suffixes or fix the pattern$/);
    c.adapter.target_modules = [];
    assert.deepStrictEqual(check(c).map((x) => x.message), ['adapter.target_modules: expected at least one module suffix, found an empty list']);
  });

  it('reports a data file whose format cannot be inferred', () => {
    const c = base() as any;
    fs.writeFileSync(path.join(dir, 'data/train.txt'), '');
    c.data.train = 'data/train.txt';
    assert.deepStrictEqual(check(c).map((d) => d.message), ['data.train: cannot tell the format of "train.txt" from its extension; use .jsonl, .csv, .parquet or .arrow, or set data.format']);
    c.data.format = 'jsonl';
    assert.deepStrictEqual(check(c), []);
  });
});
