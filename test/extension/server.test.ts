// The real backend server over a real stdio JSON-RPC connection (spawned through the
// supervisor the extension uses): handshake, a model's target groups, config validation with
// the model, the budget, and errors that name what to fix.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { BackendSupervisor, type RunningBackend } from '../../src/backendProcess';
import {
  Methods, PROTOCOL_VERSION, type BudgetResult, type MemoryResult, type InspectResult, type ListTargetsResult, type ValidateConfigResult,
} from '../../native-runtime/protocol';
import { RunWriter } from '../../native-runtime/io/runDir';
import type { RouterStats, SpectrumReport } from '../../native-runtime/runFiles';
import { REPO, configFixture, runStatus, serverLaunch, type ConfigFixture } from './fixtures';

describe('backend server over stdio JSON-RPC', function () {
  this.timeout(60_000);
  let fx: ConfigFixture;
  let sup: BackendSupervisor;
  let backend: RunningBackend;
  const stderr: string[] = [];

  before(async () => {
    fx = configFixture();
    sup = new BackendSupervisor(serverLaunch(fx.dir), { onStderr: (t) => stderr.push(t) });
    backend = await sup.ready();
  });
  after(async () => {
    await sup.dispose();
    fs.rmSync(fx.dir, { recursive: true, force: true });
  });

  it('answers initialize with its version, protocol and providers', () => {
    const pkg = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../package.json'), 'utf8'));
    assert.strictEqual(backend.info.version, pkg.version);
    assert.strictEqual(backend.info.protocolVersion, PROTOCOL_VERSION);
    assert.ok(backend.info.providers.includes('cpu'), `providers: ${backend.info.providers}`);
    // Its logs went to stderr, never into the protocol stream.
    assert.match(stderr.join(''), /listening on stdio/);
  });

  it('lists target groups of a model, in model order, grouped by suffix and shape', async () => {
    const r = await backend.request<ListTargetsResult>(Methods.listTargets, { modelPath: fx.modelPath });
    const bySuffix = new Map(r.targets.map((t) => [t.suffix, t]));
    assert.deepStrictEqual([...bySuffix.keys()].sort(), ['attention.self.query', 'attention.self.value', 'classifier', 'intermediate.dense', 'output.dense']);
    const v = bySuffix.get('attention.self.value')!;
    assert.deepStrictEqual([v.d_in, v.d_out], [8, 8]);
    assert.deepStrictEqual(v.modules, [0, 1, 2].map((l) => `encoder.layer.${l}.attention.self.value`));
    assert.deepStrictEqual([bySuffix.get('intermediate.dense')!.d_in, bySuffix.get('intermediate.dense')!.d_out], [8, 16]);
  });

  it('resolves a relative model path against its working directory', async () => {
    const r = await backend.request<ListTargetsResult>(Methods.listTargets, { modelPath: 'model.onnx' });
    assert.ok(r.targets.length > 0);
  });

  it('tells how many positions a model embeds (a new config must not ask for more tokens)', async () => {
    const demo = await backend.request<ListTargetsResult>(Methods.listTargets, { modelPath: path.join(REPO, 'examples', 'sentiment', 'model.onnx') });
    assert.strictEqual(demo.maxPositions, 32);
    const none = await backend.request<ListTargetsResult>(Methods.listTargets, { modelPath: 'model.onnx' });
    assert.strictEqual(none.maxPositions, undefined, 'the fixture has no position table');
  });

  it('reports a missing model as an error naming the file', async () => {
    await assert.rejects(backend.request(Methods.listTargets, { modelPath: path.join(fx.dir, 'nope.onnx') }), /model file not found: .*nope\.onnx/);
  });

  it('validates a good config with no diagnostics', async () => {
    const r = await backend.request<ValidateConfigResult>(Methods.validateConfig, { configPath: fx.configPath });
    assert.deepStrictEqual(r.diagnostics.filter((d) => d.severity === 'error'), []);
  });

  it('reports target_modules that match no layer of the model, with the nearest suffix', async () => {
    const text = fs.readFileSync(fx.configPath, 'utf8').replace('"value"', '"valeu"');
    const r = await backend.request<ValidateConfigResult>(Methods.validateConfig, { configPath: fx.configPath, text });
    assert.strictEqual(r.diagnostics.length, 1, JSON.stringify(r.diagnostics));
    const d = r.diagnostics[0];
    assert.deepStrictEqual(d.path, ['adapter', 'target_modules', 0], 'on the entry, not the whole list');
    assert.strictEqual(d.severity, 'error');
    assert.match(d.message, /^adapter\.target_modules\[0\]: "valeu" matches no linear layer/);
    assert.match(d.message, /did you mean "value"/);
    assert.strictEqual(d.suggestion, 'value', 'the nearest suffix becomes a quick fix');
  });

  it('shows a target typo together with schema errors elsewhere, each once', async () => {
    const cfg = JSON.parse(fs.readFileSync(fx.configPath, 'utf8'));
    cfg.adapter.target_modules = ['query', 'vlaue'];
    cfg.adapter.r = 0;
    cfg.adapter.stirde_A = 2;
    const r = await backend.request<ValidateConfigResult>(Methods.validateConfig, { configPath: fx.configPath, text: JSON.stringify(cfg) });
    const brief = r.diagnostics.map((d) => `${d.path.join('.')}${d.fromSchema ? ' (schema)' : ''}`).sort();
    assert.deepStrictEqual(brief, ['adapter.r (schema)', 'adapter.stirde_A (schema)', 'adapter.target_modules.1'], JSON.stringify(r.diagnostics));
  });

  it('reports schema errors from unsaved text (not the file on disk)', async () => {
    const cfg = JSON.parse(fs.readFileSync(fx.configPath, 'utf8'));
    cfg.adapter.num_B = 1;
    const r = await backend.request<ValidateConfigResult>(Methods.validateConfig, { configPath: fx.configPath, text: JSON.stringify(cfg) });
    assert.ok(r.diagnostics.some((d) => d.path.join('.') === 'adapter.num_B' && d.severity === 'error'), JSON.stringify(r.diagnostics));
  });

  it('computes the Lily budget and the LoRA rank that costs the same', async () => {
    // 3 value layers of 8x8, r=4, stride_A=1, num_B=2:
    // A: 3*4*8 = 96, B: 2*4*8 = 64, routers: 3*4*2 = 24 -> 184. LoRA per rank: 3*(8+8) = 48 -> r' = round(184/48) = 4.
    const r = await backend.request<BudgetResult>(Methods.budget, { configPath: fx.configPath });
    assert.strictEqual(r.trainable_params, 184);
    assert.strictEqual(r.lora_rank_at_budget, 4);
    assert.strictEqual(r.targets.length, 1);
    assert.deepStrictEqual(r.targets[0].layers.map((l) => l.a_group), [0, 1, 2]);
  });

  it('computes the budget while a data file is missing, and names the adapter field that blocks it', async () => {
    const cfg = JSON.parse(fs.readFileSync(fx.configPath, 'utf8'));
    cfg.data.train = 'data/missing.jsonl';
    const r = await backend.request<BudgetResult>(Methods.budget, { configPath: fx.configPath, text: JSON.stringify(cfg) });
    assert.strictEqual(r.trainable_params, 184);
    cfg.adapter.r = 0;
    await assert.rejects(backend.request(Methods.budget, { configPath: fx.configPath, text: JSON.stringify(cfg) }), /^Error: adapter\.r: .*\(fix it to see the budget\)$/);
  });

  it('estimates the peak memory through lily train --dry-run (with the checkpointed estimate), and reports a config the dry run refuses', async () => {
    const r = await backend.request<MemoryResult>(Methods.memory, { configPath: path.join(REPO, 'examples/sentiment/sentiment.lily.json') });
    const e = r.estimate;
    assert.strictEqual(e.total, e.weights + e.activations + e.logits + e.adapter + e.optimizer + (e.graphs ?? 0) + e.runtime);
    assert.ok((e.graphs ?? 0) > 0, 'the step graph itself costs memory');
    assert.ok(e.weights > 0 && e.adapter > 0 && e.activations > 0, JSON.stringify(e));
    assert.strictEqual(r.fits, true);
    assert.strictEqual(r.gradientCheckpointing, false);
    assert.deepStrictEqual(r.inputShapes.input_ids, [32, 32]);
    assert.ok(r.withCheckpointing && r.withCheckpointing.activations < e.activations, JSON.stringify(r.withCheckpointing));
    const cfg = JSON.parse(fs.readFileSync(fx.configPath, 'utf8'));
    const configPath = path.join(fx.dir, 'nodata.lily.json');
    fs.writeFileSync(configPath, JSON.stringify({ ...cfg, data: { train: './data/none.jsonl' } }));
    await assert.rejects(backend.request(Methods.memory, { configPath }), /data\.train/);
  });

  it('answers inspect for a run directory from its last evaluation files', async () => {
    const runDir = path.join(fx.dir, 'runs', 'r1');
    const w = new RunWriter(runDir);
    w.updateStatus(runStatus({ state: 'completed' }));
    const layers = [{ module: 'encoder.layer.0.attention.self.value', index: 0, a_group: 0 }];
    const spectrum: SpectrumReport = {
      step: 4, method: 'lily',
      targets: [{ target: 'value', d_in: 8, d_out: 8, layers: [{ ...layers[0], singular_values: [2, 1], numerical_rank: 2, effective_rank: 1.9, stable_rank: 1.25 }], r: 4, lora_rank_at_budget: 4, trainable_params: 184 }],
    };
    const routerStats: RouterStats = { step: 4, reference: 'eval.jsonl', samples: 8, targets: [] };
    w.writeSpectrum(spectrum);
    w.writeRouterStats(routerStats);
    const r = await backend.request<InspectResult>(Methods.inspect, { path: runDir });
    assert.deepStrictEqual(r, { spectrum, routerStats });
  });

  it('refuses a budget for an invalid config, naming the field', async () => {
    const text = fs.readFileSync(fx.configPath, 'utf8').replace('"r": 4', '"r": 0');
    await assert.rejects(backend.request(Methods.budget, { configPath: fx.configPath, text }), /adapter\.r/);
  });
});
