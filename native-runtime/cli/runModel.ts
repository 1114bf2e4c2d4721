// The ONNX model behind a run: what `lily inspect`, `lily eval` and the ONNX exports run it on.
// An ONNX-engine run names it in model.path. A torch-backend run may name a Hugging Face folder
// instead; that folder is exported to ONNX once, by `lily import`'s exporter (the same optimum
// export the ONNX engine would train), into <output.dir>/.onnx/<folder>-<key>/, and reused by
// every later run, inspection and export of the same folder. The key hashes the folder's path,
// its config.json and the names, sizes and times of its weight files, so replaced weights are
// exported again. The inspection code itself stays one implementation, in TypeScript.
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import type { ResolvedConfig } from '../config/resolved';
import type { Model } from '../onnx/ir';
import { choosePython } from '../torch/launch';
import { loadRunModel } from '../train/trainer';
import { parseArgs } from './args';
import { EXIT, InputError } from '../errors';
import { importCommand } from './importCommand';
import type { CliIO } from './io';

export const ONNX_CACHE_DIR = '.onnx';

export interface RunModelOptions {
  /** Where relative paths resolve, and where choosePython looks for .venv. */
  cwd: string;
  /** The exporter's interpreter (see choosePython). */
  python?: string;
  log: (message: string) => void;
}

const WEIGHT_FILE = /\.(safetensors|bin|pt|pth|h5|msgpack)$|\.index\.json$/;

/** Changes when the folder's model changes (config or weights), not when anything else in it does. */
export function hfFolderKey(folder: string): string {
  const h = createHash('sha256');
  const real = fs.realpathSync(folder);
  h.update(real);
  h.update(fs.readFileSync(path.join(real, 'config.json')));
  for (const f of fs.readdirSync(real).filter((n) => WEIGHT_FILE.test(n)).sort()) {
    const st = fs.statSync(path.join(real, f));
    h.update(`\0${f}\0${st.size}\0${st.mtimeMs}`);
  }
  return h.digest('hex').slice(0, 16);
}

/** Where the ONNX export of a Hugging Face folder is kept for runs written under outputDir. */
export function onnxCacheFolder(outputDir: string, hfFolder: string): string {
  return path.join(outputDir, ONNX_CACHE_DIR, `${path.basename(fs.realpathSync(hfFolder))}-${hfFolderKey(hfFolder)}`);
}

/**
 * The run's config with model.path naming an ONNX file: unchanged for ONNX models, else the
 * cached export of its Hugging Face folder (made now when missing; a failed export throws with
 * the exporter's message and leaves no half-written folder).
 */
export async function onnxConfigOf(config: ResolvedConfig, opts: RunModelOptions): Promise<ResolvedConfig> {
  const p = config.model.path;
  if (!fs.existsSync(p) || !fs.statSync(p).isDirectory()) return config;
  if (!fs.existsSync(path.join(p, 'config.json'))) throw new InputError(`${config.configPath}: model.path: folder ${p} holds no config.json; give a Hugging Face model folder or an ONNX file`);
  const dir = onnxCacheFolder(config.output.dir, p);
  const file = path.join(dir, 'model.onnx');
  if (!fs.existsSync(file)) {
    opts.log(`Exporting ${p} to ONNX once for inspection and export (${dir}) ...`);
    const captured: string[] = [];
    const io: CliIO = { stdout: (t) => { captured.push(t); }, stderr: (t) => { for (const l of t.split('\n')) if (l.trim()) opts.log(l); }, stderrIsTTY: false, columns: 100 };
    const argv = [p, '--out', dir, '--no-config', '--task', config.model.task, '--python', choosePython(opts.python, opts.cwd)];
    // The task of the run, not the one config.json's architectures imply (a regression head is
    // a sequence classifier with one label there).
    const code = await importCommand.run(parseArgs(importCommand.spec, argv), { io, cwd: opts.cwd });
    if (code !== EXIT.ok || !fs.existsSync(file)) throw new Error(`exporting ${p} to ONNX failed (exit ${code}): ${captured.join('').trim()}`);
  }
  return { ...config, model: { ...config.model, path: file } };
}

/** The run's config (model.path an ONNX file) and its loaded model. */
export async function runModel(config: ResolvedConfig, opts: RunModelOptions): Promise<{ config: ResolvedConfig; model: Model }> {
  const onnx = await onnxConfigOf(config, opts);
  return { config: onnx, model: loadRunModel(onnx) };
}

/** The `--python` option of the commands that may export a torch run's Hugging Face folder. */
export const PYTHON_OPTION = {
  name: 'python', kind: 'string' as const, value: 'PATH',
  help: 'Torch-backend run on a Hugging Face folder: the Python that exports it to ONNX once (default: $LILY_PYTHON, ./.venv/bin/python, python3).',
};
