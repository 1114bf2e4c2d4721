#!/usr/bin/env node
// `npm run bench`: our engine against what users run instead, transformers + PEFT on PyTorch,
// side by side on real-length data.
//
// Rows: transformers' BERT classifier (the sizes of the old table) and a Llama-style causal LM
// with grouped-query attention, built from configs by scripts/oracle/hf_models.py and exported to
// ONNX with torch.onnx.export(dynamo=False). Data: token lengths drawn from real corpora
// (bench/data/lengths-*.json: Debian's fortune cookies for classification, Linux man pages for
// causal LM), random ids. Each side runs in its own process on the same thread count:
//   ours     bench/ours/trainWorker.ts: StepRunner, the `lily train` code path, with the row's
//            data.padding (buckets) or data.packing, all bucket graphs compiled up front
//   peer     scripts/oracle/bench_peft.py: PEFT's LilyConfig on transformers' own model class,
//            torch.optim.AdamW, batches padded to their longest row (DataCollatorWithPadding)
//   parity   ours with data.padding "longest" (the peer's padding): its first loss must equal
//            the peer's (same model, same initial adapter written in PEFT's format, same batch)
// Timed steps alternate between the processes round by round (same load for all); every
// process takes the same batches in the same order and the same number of steps, then both
// evaluate the same held-out batches. Throughput counts real (non-padding) tokens only.
//
//   node bench/run.mjs [--quick] [--rows cls-128x2,clm-512] [--variants buckets,buckets+grouped,packing] [--threads 2] [--rounds 5] [--compile] [--out FILE] [--readme]
//     [--memory small,qwen05b,llama7b | none]
//   node bench/run.mjs --render-only [--out FILE]     re-writes README.md's table from FILE
// `npm run bench` is `node bench/run.mjs --readme`: every row, then README.md's results block.
// After these rows, the memory rows (bench/memory.mjs: peak RSS, first step and step time per
// weights dtype, beside the peer; issue #17) run in a child process and write
// bench/results/memory.json; --memory picks their models (--quick: small only).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { groupedOrder, loadHistogram, makeExamples, sampleLengths } from './lib/data.mjs';
import { loadAverage, machineInfo } from './lib/machine.mjs';
import { median } from './lib/stats.mjs';
import { updateReadme } from './lib/readme.mjs';
import { formatGoals, formatTable } from './lib/table.mjs';
import { Worker } from './lib/worker.mjs';
import { MODELS as MEMORY_MODELS } from './memory/rows.mjs';
import { projectPython } from '../scripts/projectPython.cjs';
import { GROUP_MEGABATCH } from '../out/native-runtime/train/data/plan.js';
import { defaultBuckets } from '../out/native-runtime/train/data/padding.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** The project venv's Python (torch 2.13); throws, naming scripts/setup-python.sh, when it is missing. */
const PYTHON = projectPython();
const TRAIN = { lr: 1e-4, weightDecay: 0.01, maxGradNorm: 1.0 };
const ROUND_TARGET_MS = 1500;
const MAX_STEPS_PER_ROUND = 8;
const EVAL_GROUPS = 4;

// Ours pads to data.buckets' default for the row's max_length (defaultBuckets: multiples of 8 up
// to 128 for classification, of 32 up to 512 for causal LM); --buckets picks other lengths, or
// `longest` (a graph per distinct length, as the peer pads).
/** Classification: fortune-cookie lengths, batch 8 (Trainer's default), max_length 128. */
const CLS = { task: 'sequence-classification', kind: 'bert', batch: 8, maxLength: 128, histogram: 'lengths-fortunes.json', vocab: 30522, targets: ['query', 'value'] };
/** Causal LM: man-page lengths, batch 4 x 512 tokens. */
const CLM = { task: 'causal-lm', kind: 'llama', batch: 4, maxLength: 512, histogram: 'lengths-manpages.json', vocab: 32000, targets: ['q_proj', 'v_proj'] };

const bert = (d, layers) => ({ ...CLS, model: { hidden_size: d, num_hidden_layers: layers, num_attention_heads: d / 64, intermediate_size: 4 * d, vocab_size: CLS.vocab } });
const llama = (d, layers, heads, kv, ff) => ({ ...CLM, model: { hidden_size: d, num_hidden_layers: layers, num_attention_heads: heads, num_key_value_heads: kv, intermediate_size: ff, vocab_size: CLM.vocab } });
const ROWS = {
  'cls-128x2': bert(128, 2),
  'cls-256x4': bert(256, 4),
  'cls-512x6': bert(512, 6),
  'cls-768x12': bert(768, 12),
  'clm-512': llama(512, 8, 8, 2, 1408),
  'clm-1024': llama(1024, 8, 16, 4, 2816),
};

function parseArgs(argv) {
  const o = { quick: false, rows: Object.keys(ROWS), threads: 2, rounds: 5, compile: false, readme: false, renderOnly: false, out: path.join(ROOT, 'bench', 'results', 'latest.json'), memory: undefined, buckets: undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`bench: ${a} needs a value`);
      return v;
    };
    if (a === '--quick') o.quick = true;
    else if (a === '--rows') o.rows = value().split(',').map((r) => r.trim());
    else if (a === '--variants') o.variants = value().split(',').map((r) => r.trim());
    else if (a === '--threads') o.threads = positiveInt(value(), a);
    else if (a === '--rounds') o.rounds = positiveInt(value(), a);
    else if (a === '--compile') o.compile = true;
    else if (a === '--out') o.out = path.resolve(value());
    else if (a === '--memory') o.memory = value();
    else if (a === '--buckets') o.buckets = parseBuckets(value());
    else if (a === '--readme') o.readme = true;
    else if (a === '--render-only') o.renderOnly = true;
    else throw new Error(`bench: unknown argument "${a}"; expected --quick, --rows ${Object.keys(ROWS).join(',')}, --variants ${VARIANTS.join(',')}, --threads N, --rounds N, --compile, --out FILE, --memory MODELS|none, --buckets L1,L2,..|longest, --readme or --render-only`);
  }
  for (const r of o.rows) if (!ROWS[r]) throw new Error(`bench --rows: unknown row "${r}"; rows are ${Object.keys(ROWS).join(', ')}`);
  for (const v of o.variants ?? []) if (!VARIANTS.includes(v)) throw new Error(`bench --variants: unknown variant "${v}"; variants are ${VARIANTS.join(', ')}`);
  if (o.quick) {
    o.rows = [o.rows[0]];
    o.rounds = Math.min(o.rounds, 2);
  }
  o.memory ??= o.quick ? 'small' : Object.keys(MEMORY_MODELS).join(',');
  if (o.memory !== 'none') {
    for (const m of o.memory.split(',')) if (!MEMORY_MODELS[m]) throw new Error(`bench --memory: unknown model "${m}"; models are ${Object.keys(MEMORY_MODELS).join(', ')}, or none`);
  }
  return o;
}

/** `--buckets 32,64,128` (lengths) or `--buckets longest` (ours pads as the peer does). */
function parseBuckets(s) {
  if (s === 'longest') return s;
  const list = s.split(',').map((x) => positiveInt(x.trim(), '--buckets'));
  return [...new Set(list)].sort((x, y) => x - y);
}

/** The row's bucket lengths (undefined: padding "longest"), and how the table names them. */
function bucketsFor(row, opts) {
  if (opts.buckets === 'longest') return undefined;
  return (opts.buckets ?? defaultBuckets(row.maxLength)).filter((b) => b < row.maxLength).concat(row.maxLength);
}

function paddingLabel(row) {
  const b = row.buckets;
  if (!b) return 'longest';
  if (b.length <= 4) return `buckets ${b.join('/')}`;
  const step = b[1] - b[0];
  const even = b.every((x, i) => i === 0 || x - b[i - 1] === step || (i === b.length - 1 && x - b[i - 1] < step));
  return `${b.length} buckets ${b[0]}..${b[b.length - 1]}${even ? ` by ${step}` : ''}`;
}

function positiveInt(s, flag) {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1) throw new Error(`bench ${flag}: expected a positive integer, got "${s}"`);
  return n;
}

/** Lily as the paper's scripts use it on attention (r 16-32, A shared by 2 layers, 4 B experts). */
function lilyAdapter(row) {
  return { method: 'lily', target_modules: row.targets, r: row.model.hidden_size >= 512 ? 32 : 16, stride_A: 2, num_B: 4, scaling: 1, routing: 'batch', ...(row.task === 'sequence-classification' ? { modules_to_save: ['classifier'] } : {}) };
}

/**
 * Exports the model once per configuration (cached in the temp folder). `kind` bert-doc: the
 * same weights (same seed) as a packed classifier (document-number mask, document_starts).
 */
function exportedModel(row, kind = row.kind) {
  const key = `hf-${kind}-${Object.values(row.model).join('-')}-seed0`;
  const dir = path.join(os.tmpdir(), 'lily-bench-models', key);
  if (fs.existsSync(path.join(dir, 'model.onnx')) && fs.existsSync(path.join(dir, 'state.safetensors'))) return dir;
  const tmp = `${dir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  process.stderr.write(`exporting ${key} with torch ...\n`);
  const res = spawnSync(PYTHON, [path.join(ROOT, 'scripts/oracle/hf_models.py'), '--kind', kind, '--out', tmp, '--seed', '0', '--config', JSON.stringify(row.model)], {
    encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '2', PYTHONDONTWRITEBYTECODE: '1' }, timeout: 900_000,
  });
  if (res.status !== 0) throw new Error(`bench: exporting ${key} failed (exit ${res.status}):\n${(res.stderr ?? String(res.error)).slice(-3000)}`);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.renameSync(tmp, dir);
  return dir;
}

function writeData(row, shareDir, opts) {
  const h = loadHistogram(ROOT, row.histogram);
  const steps = 5 + opts.rounds * MAX_STEPS_PER_ROUND;
  // Packed rows take several documents each: enough examples for every step either way; and
  // at least two of group_by_length's mega-batches.
  const n = Math.max(steps * row.batch * (row.task === 'causal-lm' ? 4 : 1), 2 * row.batch * GROUP_MEGABATCH);
  const classify = row.task === 'sequence-classification';
  const train = makeExamples(sampleLengths(h, n, row.maxLength, 11), row.vocab, classify, 12);
  // The same examples batched as data.group_by_length batches them (the examples are random
  // draws already, i.e. shuffled); the batches are then taken in a seeded random order, so that
  // the few timed steps sample every length class (Hugging Face runs each mega-batch's batches
  // from long to short). Both sides of a grouped pair read this same list.
  const grouped = groupedOrder(train.map((e) => e.ids.length), row.batch, GROUP_MEGABATCH, 31).map((i) => train[i]);
  const evalFlat = makeExamples(sampleLengths(h, EVAL_GROUPS * row.batch, row.maxLength, 21), row.vocab, classify, 22);
  const evalGroups = Array.from({ length: EVAL_GROUPS }, (_, g) => evalFlat.slice(g * row.batch, (g + 1) * row.batch));
  fs.writeFileSync(path.join(shareDir, 'data.json'), JSON.stringify({ train, train_grouped: grouped, eval: evalGroups }));
  // Padding over the whole list (not just the few timed steps): to the longest row (the peer)
  // and to the row's buckets (ours), in the shuffled and in the grouped order.
  const padding = (list, fit) => {
    let real = 0, cells = 0;
    for (let s = 0; s + row.batch <= list.length; s += row.batch) {
      const lens = list.slice(s, s + row.batch).map((e) => e.ids.length);
      real += lens.reduce((x, y) => x + y, 0);
      cells += row.batch * fit(Math.max(...lens));
    }
    return round3(1 - real / cells);
  };
  const longest = (m) => m, bucket = row.buckets ? (m) => row.buckets.find((b) => b >= m) ?? row.maxLength : longest;
  const epochPadding = { shuffled_longest: padding(train, longest), shuffled_buckets: padding(train, bucket), grouped_longest: padding(grouped, longest), grouped_buckets: padding(grouped, bucket), examples: train.length };
  return { corpus: h.corpus, tokenizer: h.tokenizer, corpus_mean_tokens: h.mean, corpus_median_tokens: h.median, mean_tokens_after_truncation: Math.round(train.reduce((s, e) => s + e.ids.length, 0) / train.length * 10) / 10, epoch_padding: epochPadding };
}

function oursWorker(label, settings) {
  return new Worker(label, process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench/ours/trainWorker.ts'), JSON.stringify(settings)], { ...process.env }, ROOT);
}

function peerWorker(label, settings, threads) {
  return new Worker(label, PYTHON, [path.join(ROOT, 'scripts/oracle/bench_peft.py'), JSON.stringify(settings)], { ...process.env, OMP_NUM_THREADS: String(threads), PYTHONDONTWRITEBYTECODE: '1', TOKENIZERS_PARALLELISM: 'false' }, ROOT);
}

/**
 * The engine's variants of a row, each paired with the peer that reads the same batches:
 * buckets on the shuffled order and on the length-grouped order (data.group_by_length; its peer
 * is PEFT with Trainer's group_by_length), and packing (data.packing) against the peer on the
 * shuffled order: the same examples, several per row (classification: the bert-doc export of the
 * same weights, which scores each document of a row).
 */
const VARIANTS = ['buckets', 'buckets+grouped', 'packing', 'packing+packed'];

function variants(row, only) {
  const buckets = row.buckets ? { name: 'buckets', padding: 'buckets', buckets: row.buckets, prepareBuckets: true, peer: 'peer' } : { name: 'buckets', padding: 'longest', prepareBuckets: true, peer: 'peer' };
  const grouped = { ...buckets, name: 'buckets+grouped', order: 'grouped', peer: 'peer_grouped' };
  const packing = { name: 'packing', padding: 'max_length', packing: true, peer: 'peer', ...(row.task === 'sequence-classification' ? { modelKind: 'bert-doc' } : {}) };
  // runtime.pack_weights true: every frozen weight of the train session prepacked (faster, more
  // memory). The other variants run with the default "auto" (packing: the forward products' weights).
  const packed = { ...packing, name: 'packing+packed', packWeights: true };
  return [buckets, grouped, packing, packed].filter((v) => !only || only.includes(v.name));
}

async function benchRow(name, opts) {
  const row = { ...ROWS[name] };
  row.buckets = bucketsFor(row, opts);
  const modelDir = exportedModel(row);
  const shareDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lily-bench-share-'));
  const data = writeData(row, shareDir, opts);
  const adapter = lilyAdapter(row);
  const common = { modelDir, shareDir, adapter, task: row.task, batch: row.batch, maxLength: row.maxLength, threads: opts.threads, ...TRAIN, shareFrozenWeights: true };
  const workers = [];
  const loadBefore = loadAverage();
  try {
    // Parity: our engine with the peer's padding writes the initial adapter, takes one step.
    process.stderr.write(`[${name}] parity: our engine with the peer's padding (longest) ...\n`);
    const parity = oursWorker(`ours parity ${name}`, { ...common, padding: 'longest', writeInit: true });
    workers.push(parity);
    const parityReady = await parity.next();
    await parity.quit();
    const peerSettings = { model_dir: modelDir, share_dir: shareDir, adapter, task: row.task, batch: row.batch, max_length: row.maxLength, threads: opts.threads, lr: TRAIN.lr, weight_decay: TRAIN.weightDecay, max_grad_norm: TRAIN.maxGradNorm };
    // Phases: each of our variants beside a peer process of its own (the peer that reads the
    // same batches in the same order), so at most two training processes are alive at a time.
    // When three variants shared one peer, the peer's step time grew with the processes alive
    // beside it (clm-1024: 4573 ms beside one, 6264 ms beside three) and the ratios
    // of one run could not be compared with another's. Every comparison is between two
    // processes that alternated their timed steps within one phase.
    const asked = variants(row, opts.variants);
    const peerLabel = { peer: 'PEFT on PyTorch', peer_grouped: 'PEFT on PyTorch, group_by_length', peer_compiled: 'PEFT on PyTorch with torch.compile' };
    const phases = [
      // (The shuffled peer runs even when no asked variant reads its order: every row's
      // first-loss check needs it.)
      ...(asked.some((v) => v.peer === 'peer') ? [] : [{ peer: 'peer', variant: undefined }]),
      ...asked.map((v) => ({ peer: v.peer, order: v.order, variant: v })),
      ...(opts.compile ? [{ peer: 'peer_compiled', compile: true, variant: undefined }] : []),
    ];
    const sides = [], evalsFirst = {}, evals = {}, rss = {};
    const acc = {};
    let peerReady;
    for (const phase of phases) {
      const peerKey = phase.variant ? `${phase.peer}@${phase.variant.name}` : phase.peer;
      const here = [];
      const v = phase.variant;
      if (v) {
        process.stderr.write(`[${name}] our engine (${v.name}) ...\n`);
        const w = oursWorker(`ours ${v.name} ${name}`, { ...common, ...v, ...(v.modelKind ? { modelDir: exportedModel(row, v.modelKind) } : {}) });
        workers.push(w);
        here.push({ key: `ours_${v.name}`, worker: w, ready: await w.next(), variant: v, peerKey });
      }
      process.stderr.write(`[${name}] ${peerLabel[phase.peer]} ...\n`);
      const pw = peerWorker(`${peerKey} ${name}`, { ...peerSettings, ...(phase.order ? { order: phase.order } : {}), ...(phase.compile ? { compile: true } : {}) }, opts.threads);
      workers.push(pw);
      here.push({ key: peerKey, worker: pw, ready: await pw.next() });
      sides.push(...here);
      const ready = here[here.length - 1].ready;
      if (phase.peer === 'peer' && !peerReady) peerReady = ready;
      if (parityReady.trainable_params !== ready.trainable_params) {
        throw new Error(`bench ${name}: trainable tensors differ: ours ${parityReady.trainable_params}, PEFT ${ready.trainable_params}`);
      }
      // Eval after the first step (every side has taken the same one), to set the end's gap
      // between ours and the peer against how far training moved the eval loss.
      for (const s of here) {
        s.worker.send({ cmd: 'eval' });
        evalsFirst[s.key] = (await s.worker.next()).loss;
      }
      const warm = [];
      for (const s of here) warm.push(await s.worker.run(2));
      const slowest = Math.max(...warm.map((w) => median(w.ms)));
      const k = Math.max(1, Math.min(MAX_STEPS_PER_ROUND, Math.round(ROUND_TARGET_MS / slowest)));
      for (const s of here) acc[s.key] = { ms: [], cpu: [], real: 0, padded: 0, documents: 0, loss: NaN };
      for (let round = 0; round < opts.rounds; round++) {
        const load1 = loadAverage()[0];
        maxLoad = Math.max(maxLoad, load1);
        process.stderr.write(`[${name}] ${peerKey}: round ${round + 1}/${opts.rounds} (${k} step${k > 1 ? 's' : ''} each) load ${load1}\n`);
        for (const s of here) {
          const r = await s.worker.run(k);
          const a = acc[s.key];
          a.ms.push(...r.ms);
          a.cpu.push(...(r.cpu_ms ?? []));
          a.real += r.real_tokens;
          a.padded += r.padded_tokens;
          a.documents += r.documents ?? NaN;
          a.loss = r.loss;
        }
      }
      // Peak RSS: the process's VmHWM at the end, over training and both evals (as a run that
      // evaluates while it trains), for every side alike.
      for (const s of here) {
        s.worker.send({ cmd: 'eval' });
        evals[s.key] = (await s.worker.next()).loss;
      }
      for (const s of here) rss[s.key] = await s.worker.quit();
    }
    const gap = Math.abs(parityReady.first_loss - peerReady.first_loss) / Math.abs(peerReady.first_loss);
    if (!(gap < 1e-3)) throw new Error(`bench ${name}: first losses differ with the same padding (ours ${parityReady.first_loss}, PEFT ${peerReady.first_loss}): the two sides do not compute the same function`);
    const summary = (key) => {
      const a = acc[key];
      const total = a.ms.reduce((x, y) => x + y, 0);
      return { ms: round2(total / a.ms.length), median_ms: round2(median(a.ms)), cpu_ms: a.cpu.length ? round2(a.cpu.reduce((x, y) => x + y, 0) / a.cpu.length) : undefined, real_tps: Math.round(a.real / (total / 1000)), padding_fraction: round3(1 - a.real / a.padded), steps: a.ms.length, last_loss: a.loss, documents_per_step: round2(a.documents / a.ms.length) };
    };
    const pc = opts.compile ? summary('peer_compiled') : undefined;
    return sides.filter((s) => s.key.startsWith('ours_')).map((s) => {
      const o = summary(s.key);
      const peerKey = s.peerKey;
      const p = summary(peerKey);
      const ready = s.ready;
      return {
        row: name, variant: s.variant.name, task: row.task, model: { kind: row.kind, ...row.model }, batch: row.batch, max_length: row.maxLength,
        padding: s.variant.packing ? (s.variant.packWeights ? 'packing, pack_weights true' : 'packing') : paddingLabel(row), buckets: s.variant.packing ? undefined : row.buckets ?? 'longest', peer_padding: 'longest',
        order: s.variant.order === 'grouped' ? `group_by_length (mega-batches of ${GROUP_MEGABATCH} batches; batches in random order)` : 'shuffled',
        adapter, trainable_params: ready.trainable_params, data,
        ours_ms: o.ms, peer_ms: p.ms, ratio: round3(o.ms / p.ms),
        ours_real_tokens_per_s: o.real_tps, peer_real_tokens_per_s: p.real_tps, throughput_ratio: round3(o.real_tps / p.real_tps),
        ours_padding_fraction: o.padding_fraction, peer_padding_fraction: p.padding_fraction,
        // Records per timed step (the peer: its batch size; classification packing: several per row).
        ours_documents_per_step: o.documents_per_step, peer_documents_per_step: p.documents_per_step,
        ours_cpu_ms: o.cpu_ms, peer_cpu_ms: p.cpu_ms,
        ours_peak_rss_mb: Math.round(rss[s.key]), peer_peak_rss_mb: Math.round(rss[peerKey]),
        ...(pc ? { peer_compiled_ms: pc.ms, peer_compiled_real_tokens_per_s: pc.real_tps, peer_compiled_peak_rss_mb: Math.round(rss.peer_compiled), peer_compiled_eval_loss: evals.peer_compiled } : {}),
        first_loss: { ours_same_padding: parityReady.first_loss, peer: peerReady.first_loss, relative_gap: gap },
        eval_loss: {
          ours: evals[s.key], peer: evals[peerKey], after_steps: o.steps + 3,
          ours_after_first_step: evalsFirst[s.key], peer_after_first_step: evalsFirst[peerKey],
          // |ours - peer| at the end against how far training moved the peer's eval loss.
          gap: Math.abs(evals[s.key] - evals[peerKey]), moved: Math.abs(evals[peerKey] - evalsFirst[peerKey]),
        },
        pack_weights: ready.pack_weights,
        first_step_ms: Math.round(ready.first_step_ms),
        first_step_done_ms: Math.round(ready.first_step_done_ms),
        first_step_breakdown_ms: { load: Math.round(ready.load_ms), build: Math.round(ready.build_ms), session: Math.round(ready.session_ms), first_run: Math.round(ready.first_run_ms) },
        // Process CPU time (all threads) of the same stages: what a quiet machine's wall time would be for the one-threaded stages.
        first_step_cpu_ms: ready.first_step_cpu_ms, first_run_cpu_ms: ready.first_run_cpu_ms,
        extra_graphs: ready.extra_graphs,
        rss_after_first_graph_mb: ready.rss_after_first_graph_mb,
        peer_first_step_ms: Math.round(sides.find((x) => x.key === peerKey).ready.first_step_ms),
        median_ms: { ours: o.median_ms, peer: p.median_ms },
        steps_timed: o.steps,
        load_average: { before: loadBefore, after: loadAverage() },
      };
    });
  } finally {
    for (const w of workers) w.kill();
    fs.rmSync(shareDir, { recursive: true, force: true });
  }
}

/** The highest 1-minute load average seen between rounds (the README states it). */
let maxLoad = 0;

const round2 = (x) => Math.round(x * 100) / 100;
const round3 = (x) => Math.round(x * 1000) / 1000;

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const readmePath = path.join(ROOT, 'README.md');
  if (opts.renderOnly) {
    const report = JSON.parse(fs.readFileSync(opts.out, 'utf8'));
    updateReadme(readmePath, report);
    process.stdout.write(`${formatTable(report)}\n\n${formatGoals(report)}\n\nwritten: README.md (from ${path.relative(process.cwd(), opts.out)})\n`);
    return;
  }
  const machine = machineInfo(PYTHON, opts.threads);
  const started = new Date();
  const loadStart = loadAverage();
  process.stderr.write(`bench: ${machine.cpu_model}, ${machine.cores} cores, ${opts.threads} threads per side, load ${loadStart.join(' ')}\n`);
  const results = [];
  let report;
  // Written after every row: a long run that is stopped keeps the rows it finished.
  const failed = [];
  for (const r of opts.rows) {
    // A row that fails (a worker crash, the machine's memory) is reported and the run goes on:
    // the lead's one quiet run must not lose the other rows to it.
    try {
      results.push(...(await benchRow(r, opts)));
    } catch (e) {
      process.stderr.write(`bench: row ${r} failed: ${e.stack ?? e}\n`);
      failed.push({ row: r, error: String(e.message ?? e).split('\n').slice(0, 3).join(' ').slice(0, 400) });
    }
    report = {
      generated_at: started.toISOString(),
      duration_s: Math.round((Date.now() - started.getTime()) / 1000),
      command: `node bench/run.mjs ${process.argv.slice(2).join(' ')}`.trim(),
      machine,
      settings: { threads: opts.threads, rounds: opts.rounds, quick: opts.quick, compile: opts.compile, ...TRAIN, classification: { ...CLS, buckets: bucketsFor(CLS, opts) ?? 'longest' }, causal_lm: { ...CLM, buckets: bucketsFor(CLM, opts) ?? 'longest' } },
      load_average: { start: loadStart, end: loadAverage(), max_1min: maxLoad },
      rows_asked: opts.rows,
      rows: results,
      failed,
    };
    fs.mkdirSync(path.dirname(opts.out), { recursive: true });
    const tmp = `${opts.out}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(report, null, 2) + '\n');
    fs.renameSync(tmp, opts.out);
  }
  process.stdout.write(`${formatTable(report)}\n\n${formatGoals(report)}\n`);
  process.stdout.write(`\nwritten: ${path.relative(process.cwd(), opts.out)}\n`);
  if (failed.length) process.exitCode = 1;
  if (opts.readme) {
    updateReadme(readmePath, report);
    process.stdout.write('written: README.md (the results block)\n');
  }
  if (opts.memory !== 'none') {
    process.stdout.write(`\nMemory rows (bench/memory.mjs --models ${opts.memory}):\n`);
    const mem = spawnSync(process.execPath, [path.join(ROOT, 'bench/memory.mjs'), '--models', opts.memory, '--threads', String(opts.threads)], { cwd: ROOT, stdio: 'inherit' });
    if (mem.status !== 0) throw new Error(`bench: the memory rows failed (exit ${mem.status ?? mem.signal})`);
  }
}

main().catch((e) => {
  process.stderr.write(`${e.stack ?? e}\n`);
  process.exit(1);
});
