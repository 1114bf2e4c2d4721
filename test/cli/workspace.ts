// A small real workspace for CLI tests: a tiny BERT-like classifier exported from PyTorch by the
// oracle script (2 layers, hidden 32), a WordPiece tokenizer.json, a toy sentiment dataset and
// a *.lily.json. The exported model is cached per process (exporting takes seconds).
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { projectPython } from '../../scripts/projectPython.cjs';
import { main } from '../../native-runtime/cli';
import type { CliIO } from '../../native-runtime/cli/io';
import type { LilyConfig } from '../../native-runtime/config/types';
import { bertTokenizerJson } from '../data/fixtures';
import { tempDir } from '../helpers/tempDir';

const ORACLE = path.resolve(__dirname, '../../scripts/oracle/export.py');
const exported = new Map<string, string>();

/** Folder with model.onnx exported from an oracle model (`encoder`, `decoder`, ...), cached per process. */
export function oracleModel(kind: string, config: object): string {
  const key = `${kind} ${JSON.stringify(config)}`;
  const have = exported.get(key);
  if (have) return have;
  const dir = tempDir('lily-cli-model-');
  const r = spawnSync(projectPython(), [ORACLE, '--model', kind, '--out', dir, '--seed', '1', '--config', JSON.stringify(config)], {
    encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1' },
  });
  if (r.status !== 0) throw new Error(`oracle export failed: ${r.stderr}`);
  exported.set(key, dir);
  return dir;
}

/** The oracle's tiny BERT-like encoder with a 2-class head. */
export function tinyEncoder(): string {
  return oracleModel('encoder', { num_labels: 2 });
}

const POS = ['great', 'good', 'fun'];
const NEG = ['bad', 'not good', 'not fun'];
const SUBJ = ['the movie', 'the film', 'a film', 'playing'];

/** Deterministic toy sentiment records: the label is decided by the sentiment word. */
export function sentimentRecords(n: number, offset = 0): Array<{ text: string; label: string }> {
  const out: Array<{ text: string; label: string }> = [];
  for (let i = offset; i < offset + n; i++) {
    const pos = i % 2 === 0;
    const words = pos ? POS : NEG;
    out.push({ text: `${SUBJ[(i >> 1) % SUBJ.length]} was ${words[(i >> 3) % words.length]} .`, label: pos ? 'positive' : 'negative' });
  }
  return out;
}

export interface Workspace {
  dir: string;
  config: string;
  runsDir: string;
}

/** A fresh folder with model, tokenizer, data and a config (overrides merged in per section). */
export function makeWorkspace(overrides: { [K in keyof LilyConfig]?: Partial<LilyConfig[K]> } = {}, opts: { train?: number; eval?: number; modelDir?: string } = {}): Workspace {
  const dir = tempDir('lily-cli-ws-');
  fs.copyFileSync(path.join(opts.modelDir ?? tinyEncoder(), 'model.onnx'), path.join(dir, 'model.onnx'));
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(bertTokenizerJson()));
  const jsonl = (rows: object[]) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
  fs.writeFileSync(path.join(dir, 'train.jsonl'), jsonl(sentimentRecords(opts.train ?? 32)));
  fs.writeFileSync(path.join(dir, 'eval.jsonl'), jsonl(sentimentRecords(opts.eval ?? 8, 1000)));
  const config: LilyConfig = {
    name: 'tiny',
    model: { path: 'model.onnx', task: 'sequence-classification', labels: ['negative', 'positive'], ...overrides.model },
    data: { train: 'train.jsonl', eval: 'eval.jsonl', max_length: 16, ...overrides.data },
    adapter: { method: 'lily', target_modules: ['query', 'value'], r: 4, num_B: 2, stride_A: 1, scaling: 1, modules_to_save: ['classifier'], ...overrides.adapter } as LilyConfig['adapter'],
    training: { batch_size: 8, lr: 5e-3, max_steps: 4, log_every: 1, eval_every: 2, ...overrides.training },
    runtime: { device: 'cpu', threads: 1, ...overrides.runtime },
    output: { dir: 'runs', ...overrides.output },
  };
  const configPath = path.join(dir, 'tiny.lily.json');
  fs.writeFileSync(configPath, JSON.stringify(config, null, 2));
  return { dir, config: configPath, runsDir: path.join(dir, 'runs') };
}

export interface Captured {
  io: CliIO;
  stdout: () => string;
  stderr: () => string;
}

/** CLI writers that record what a command prints. */
export function capture(): Captured {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: { stdout: (t) => { out.push(t); }, stderr: (t) => { err.push(t); }, stderrIsTTY: false, columns: 100 },
    stdout: () => out.join(''),
    stderr: () => err.join(''),
  };
}

/** Runs `lily ARGS` in-process in `cwd`; returns the exit code and output. */
export async function lily(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const c = capture();
  const code = await main(args, c.io, cwd);
  return { code, stdout: c.stdout(), stderr: c.stderr() };
}
