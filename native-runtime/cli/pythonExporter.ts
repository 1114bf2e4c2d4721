// Runs the shipped exporter script (native-runtime/torch/hf_export.py) in the user's Python and
// turns its outcome into either a result or an ImportFailure with a message a user can act on:
// no Python, Python without the exporter (with the exact pip line), an architecture the
// exporter does not support (with the ones it does). The script's logs stream through `onLog`.
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { InputError } from '../errors';

/**
 * Versions the exporter is tested with; scripts/python-requirements.txt pins the same ones (a
 * test checks they agree). torch is pinned too: an unpinned torch can pull a multi-GB CUDA build.
 */
export const EXPORTER_PINS: Record<string, string> = {
  torch: '2.13.0',
  transformers: '4.57.6',
  onnx: '1.23.2',
  'optimum-onnx': '0.1.0',
};

export type ImportFailureKind = 'no-python' | 'missing-exporter' | 'unsupported-architecture' | 'too-large' | 'exists' | 'invalid-input';

/** A failure of `lily import` the user can fix (exit 2); `pipInstall` is the command that fixes a missing exporter. */
export class ImportFailure extends InputError {
  constructor(readonly kind: ImportFailureKind, message: string, readonly pipInstall?: string) {
    super(message);
    this.name = 'ImportFailure';
  }
}

/** The exporter script: beside the sources, or (compiled to out/) back in the package's native-runtime/. */
export function exporterScript(): string {
  const candidates = [
    path.resolve(__dirname, '../torch/hf_export.py'),
    path.resolve(__dirname, '../../../native-runtime/torch/hf_export.py'),
  ];
  const found = candidates.find((c) => fs.existsSync(c));
  if (!found) throw new Error(`the exporter script hf_export.py is missing from the installation (looked in ${candidates.join(', ')})`);
  return found;
}

const quote = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `"${s.replace(/(["\\$`])/g, '\\$1')}"`);

/** The pip command installing the missing packages at the tested versions, in the same Python. */
export function pipInstallLine(python: string, packages: string[]): string {
  const order = Object.keys(EXPORTER_PINS);
  const wanted = [...new Set(packages)].sort((a, b) => order.indexOf(a) - order.indexOf(b));
  return `${quote(python)} -m pip install ${wanted.map((p) => `"${p}${EXPORTER_PINS[p] ? `==${EXPORTER_PINS[p]}` : ''}"`).join(' ')}`;
}

export interface ExportRequest {
  python: string;
  modelFolder: string;
  outFolder: string;
  optimumTask: string;
  modelType: string;
  architecture: string;
  /** Only check Python, the exporter and the architecture. */
  checkOnly?: boolean;
  /** Export for data.packing (native-runtime/torch/doc_classifiers.py or doc_decoders.py; model types in config/packedExports.ts). */
  packing?: boolean;
  /** Each line the exporter logs (optimum's, torch's and ours). */
  onLog: (line: string) => void;
}

export interface ExportResult {
  versions: Record<string, string>;
  python: string;
  files?: string[];
}

interface ScriptOutcome { code: number | null; signal: NodeJS.Signals | null; result?: Record<string, unknown>; stderrTail: string[] }

function runScript(req: ExportRequest): Promise<ScriptOutcome> {
  const args = [exporterScript(), '--model', req.modelFolder, '--out', req.outFolder, '--task', req.optimumTask, '--model-type', req.modelType];
  if (req.checkOnly) args.push('--check');
  if (req.packing) args.push('--packing');
  return new Promise((resolve, reject) => {
    // Offline: the model is local; a hub lookup would only stall on machines without network.
    const env = { ...process.env, HF_HUB_OFFLINE: '1', TRANSFORMERS_OFFLINE: '1', PYTHONUNBUFFERED: '1' };
    const child = spawn(req.python, args, { env, stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true });
    let result: Record<string, unknown> | undefined;
    const tail: string[] = [];
    const lines = (onLine: (l: string) => void) => {
      let buf = '';
      return (chunk: Buffer) => {
        buf += chunk.toString('utf8');
        let i: number;
        while ((i = buf.indexOf('\n')) >= 0) { onLine(buf.slice(0, i).replace(/\r$/, '')); buf = buf.slice(i + 1); }
      };
    };
    const log = (l: string) => {
      if (l.trim() === '') return;
      tail.push(l);
      if (tail.length > 20) tail.shift();
      req.onLog(l);
    };
    child.stdout.on('data', lines((l) => {
      if (l.startsWith('LILY_RESULT ')) {
        try { result = JSON.parse(l.slice('LILY_RESULT '.length)) as Record<string, unknown>; } catch { log(l); }
      } else log(l);
    }));
    child.stderr.on('data', lines(log));
    child.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'EACCES') {
        reject(new ImportFailure('no-python',
          `no Python found: "${req.python}" could not be started (${err.code}). Install Python 3.9 or newer (https://www.python.org/downloads/, or your system's python3 package), ` +
          'then pass its path with --python (in VS Code: the lily.pythonPath setting, or pick an interpreter with the Python extension)'));
      } else reject(err);
    });
    child.once('close', (code, signal) => resolve({ code, signal, result, stderrTail: tail }));
  });
}

/** Checks and (unless checkOnly) exports; throws ImportFailure for what the user can fix. */
export async function runExporter(req: ExportRequest): Promise<ExportResult> {
  const out = await runScript(req);
  const r = out.result;
  if (out.code === 0 && r?.ok) return { versions: r.versions as Record<string, string>, python: String(r.python), files: r.files as string[] | undefined };
  if (out.code === 3 && r?.error === 'missing-modules') {
    const missing = r.missing as Array<{ module: string; package: string }>;
    const pip = pipInstallLine(req.python, missing.map((m) => m.package));
    throw new ImportFailure('missing-exporter',
      `the Python at ${String(r.python)} lacks the ONNX exporter (missing: ${missing.map((m) => `${m.module} from ${m.package}`).join(', ')}). Install it with:\n  ${pip}\nthen run the import again`, pip);
  }
  if (out.code === 4 && r?.error === 'unsupported-architecture') {
    const supported = r.supported as string[];
    throw new ImportFailure('unsupported-architecture',
      `${path.join(req.modelFolder, 'config.json')}: architecture ${req.architecture} (model_type "${String(r.model_type)}") is not supported by optimum's ONNX exporter for ${String(r.task)}; ` +
      `supported model types: ${supported.join(', ')}`);
  }
  if (out.code === 5 && r?.error === 'unsupported-packing') {
    const supported = r.supported as string[];
    throw new ImportFailure('unsupported-architecture',
      `${path.join(req.modelFolder, 'config.json')}: --packing: architecture ${req.architecture} (model_type "${String(r.model_type)}") has no packed export for ${String(r.task)} ` +
      `(a document-number attention mask${r.task === 'text-classification' ? ' and a score per document' : ''}); model types with one: ${supported.join(', ') || 'none'}. Import without --packing and leave data.packing off`);
  }
  const how = out.signal ? `was killed by ${out.signal}${out.signal === 'SIGKILL' ? ' (out of memory?)' : ''}` : `exited with code ${out.code}`;
  throw new Error(`the exporter (${req.python} hf_export.py) ${how}; its last output:\n  ${out.stderrTail.slice(-8).join('\n  ')}`);
}
