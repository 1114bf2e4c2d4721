// Adapters cross between this engine and the real PEFT library, both ways, on every zoo model
// (TorchScript export at opset 17; PEFT's Lily adapts nn.Linear only, so GPT-2 crosses with LoRA):
// - ours -> PEFT: the adapter folder `lily train` wrote, loaded by PeftModel.from_pretrained onto
//   the transformers model, gives the logits of our adapted model (`lily export --format
//   adapted-onnx`, run by onnxruntime) on the eval batch, to 1e-4 of the largest logit;
// - PEFT -> ours: an adapter trained and saved by PEFT, imported by `lily` (the importer behind
//   `lily eval --adapter` / `adapter.init`), gives PEFT's logits and PEFT's eval loss.
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import { loadConfig } from '../../native-runtime/config/validate';
import { exportAdaptedOnnx } from '../../native-runtime/inspect/exportOnnx';
import { importPeftAdapter } from '../../native-runtime/inspect/peftImport';
import { loadConfigModel } from '../../native-runtime/train/trainer';
import { lily } from '../cli/workspace';
import { writeArtifact } from './compatTable';
import { ensureZoo, runVenv, scratch, type Zoo } from './zooCache';
import { trainZoo, zooConfig, type Method } from './zooRun';

const TOL = 1e-4;
const EXPORTER = 'torchscript-17';
const ENTRIES = ['bert', 'roberta', 'distilbert', 'electra', 'gpt2', 'llama', 'qwen2', 'qwen3', 'mistral', 'gemma', 'phi3', 'vit'];

interface Logits { shape: number[]; data: number[]; loss?: number }

/** The eval batch as onnxruntime feeds for the model's inputs. */
function evalFeeds(zoo: Zoo, name: string, inputNames: readonly string[]): Record<string, ort.Tensor> {
  const recs = fs.readFileSync(path.join(zoo.entryDir(name), 'eval.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const feeds: Record<string, ort.Tensor> = {};
  for (const n of inputNames) {
    if (n === 'pixel_values') {
      const flat = recs.flatMap((r) => (r.pixel_values as number[][][]).flat(2));
      feeds[n] = new ort.Tensor('float32', Float32Array.from(flat), [recs.length, 3, 16, 16]);
    } else {
      const rows = recs.map((r) => r[n] as number[] | undefined ?? []);
      if (rows.some((r) => r.length === 0)) throw new Error(`eval.jsonl has no ${n}`);
      feeds[n] = new ort.Tensor('int64', BigInt64Array.from(rows.flat().map(BigInt)), [recs.length, rows[0].length]);
    }
  }
  return feeds;
}

async function runLogits(zoo: Zoo, name: string, modelFile: string): Promise<Logits> {
  const s = await ort.InferenceSession.create(modelFile, { intraOpNumThreads: 1 });
  try {
    const out = await s.run(evalFeeds(zoo, name, s.inputNames));
    const t = out[s.outputNames[0]];
    return { shape: [...t.dims], data: Array.from(t.data as Float32Array) };
  } finally {
    await s.release();
  }
}

/** max |a - b| over the largest |b|: logits compared on the scale of the logits. */
function scaledDiff(a: Logits, b: Logits): number {
  assert.deepEqual(a.shape, b.shape, 'logits shapes differ');
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.data.length; i++) {
    d = Math.max(d, Math.abs(a.data[i] - b.data[i]));
    m = Math.max(m, Math.abs(b.data[i]));
  }
  return d / m;
}

const methodsOf = (zoo: Zoo, name: string): Method[] => (['lily', 'lora'] as Method[]).filter((m) => zoo.entry(name).peft[m].ok);

describe('Hugging Face zoo: adapters cross with PEFT both ways', function () {
  this.timeout(10 * 60_000);
  let zoo: Zoo;
  let work: string;
  const rows: Array<{ model: string; method: Method; oursToPeft?: number; peftToOurs?: number; peftEvalLoss?: number }> = [];
  /** Our runs' adapter folders, checked by PEFT in one Python process. */
  const ours: Array<{ name: string; method: Method; adapterDir: string; logits: Logits }> = [];

  before(async function () {
    this.timeout(25 * 60_000);
    zoo = ensureZoo();
    work = scratch('lily-hf-interop-');
  });

  after(() => {
    if (rows.length === 0) return;
    const md = ['| model | adapter | ours → PeftModel.from_pretrained (logits) | PEFT-trained → lily (logits) | lily eval loss vs PEFT |', '| --- | --- | --- | --- | --- |',
      ...rows.map((r) => `| ${r.model} | ${r.method} | ${r.oursToPeft?.toExponential(1) ?? '–'} | ${r.peftToOurs?.toExponential(1) ?? '–'} | ${r.peftEvalLoss?.toExponential(1) ?? '–'} |`)].join('\n') + '\n';
    writeArtifact('interop', rows, md);
    fs.rmSync(work, { recursive: true, force: true });
  });

  const row = (name: string, method: Method) => {
    let r = rows.find((x) => x.model === name && x.method === method);
    if (!r) rows.push(r = { model: name, method });
    return r;
  };

  for (const name of ENTRIES) {
    it(`${name}: PEFT-trained adapters imported by lily reproduce PEFT's logits and eval loss`, async () => {
      for (const method of methodsOf(zoo, name)) {
        const dir = path.join(work, `${name}-${method}-import`);
        const peftDir = path.join(zoo.entryDir(name), 'peft', method, 'trained');
        const ref = JSON.parse(fs.readFileSync(path.join(zoo.entryDir(name), 'peft', method, 'ref.json'), 'utf8')) as { eval: Logits & { loss: number } };
        const configFile = zooConfig(zoo, name, EXPORTER, method, dir);
        // The CLI: lily eval --adapter <PEFT folder>.
        const ev = await lily(['eval', configFile, '--adapter', peftDir, '--json'], dir);
        assert.equal(ev.code, 0, ev.stderr);
        const loss = (JSON.parse(ev.stdout.trim().split('\n').at(-1)!) as { metrics: { loss: number } }).metrics.loss;
        const lossRel = Math.abs(loss - ref.eval.loss) / Math.abs(ref.eval.loss);
        // The logits: the imported adapter on the model as an inference graph.
        const cfg = loadConfig(configFile);
        const model = loadConfigModel(cfg);
        const imported = importPeftAdapter(peftDir, model);
        await exportAdaptedOnnx({ config: cfg, model, weights: imported.weights }, path.join(dir, 'adapted'));
        const logits = await runLogits(zoo, name, path.join(dir, 'adapted', 'model.onnx'));
        const diff = scaledDiff(logits, ref.eval);
        Object.assign(row(name, method), { peftToOurs: diff, peftEvalLoss: lossRel });
        assert.ok(lossRel <= TOL, `${method}: lily eval loss ${loss} vs PEFT ${ref.eval.loss}`);
        assert.ok(diff <= TOL, `${method}: logits differ from PEFT's by ${diff.toExponential(2)} of the largest logit`);
      }
    });

    it(`${name}: our trained adapters load in PeftModel.from_pretrained (collect)`, async () => {
      for (const method of methodsOf(zoo, name)) {
        const dir = path.join(work, `${name}-${method}-train`);
        const run = await trainZoo(zoo, name, EXPORTER, method, dir);
        assert.equal(run.code, 0, run.stderr);
        const exp = await lily(['export', run.runDir!, '--format', 'adapted-onnx', '--out', path.join(dir, 'adapted')], dir);
        assert.equal(exp.code, 0, exp.stderr);
        ours.push({ name, method, adapterDir: path.join(run.runDir!, 'adapter'), logits: await runLogits(zoo, name, path.join(dir, 'adapted', 'model.onnx')) });
      }
    });
  }

  it('PeftModel.from_pretrained(base, <run>/adapter) reproduces our eval logits', () => {
    assert.ok(ours.length > 0, 'no adapters were collected');
    const jobs = path.join(work, 'peft-jobs.json');
    fs.writeFileSync(jobs, JSON.stringify(ours.map((o) => ({ entry_dir: zoo.entryDir(o.name), adapter_dir: o.adapterDir }))));
    const peft = JSON.parse(runVenv('zoo_build.py', ['peft-logits', jobs], 10 * 60_000)) as Logits[];
    const bad: string[] = [];
    ours.forEach((o, i) => {
      const diff = scaledDiff(o.logits, peft[i]);
      row(o.name, o.method).oursToPeft = diff;
      if (!(diff <= TOL)) bad.push(`${o.name} ${o.method}: ${diff.toExponential(2)}`);
    });
    assert.deepEqual(bad, [], 'PEFT\'s logits with our adapters differ from ours');
  });
});
