// Third-party-style ONNX files for the engine tests (test/thirdParty/build_model.py): real
// transformers models with random weights, exported the ways users' files come. Built once per
// test process into one temp folder; several specs share one Python start.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { projectPython } from '../../scripts/projectPython.cjs';

let root: string | undefined;

/** Folder of each spec (`kind` or `kind@opset`, default opset 14) holding its model.onnx. */
export function thirdPartyModels(specs: string[]): Record<string, string> {
  if (!root) {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'lily-third-party-'));
    const dir = root;
    process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  }
  const dirOf = (spec: string) => path.join(root!, spec.includes('@') ? spec.replace('@', '-') : `${spec}-14`);
  const missing = specs.filter((s) => !fs.existsSync(path.join(dirOf(s), 'model.onnx')));
  if (missing.length) {
    const r = spawnSync(projectPython(), [path.join(__dirname, 'build_model.py'), root, ...missing], {
      encoding: 'utf8', timeout: 300_000, env: { ...process.env, OMP_NUM_THREADS: '1', PYTHONDONTWRITEBYTECODE: '1' },
    });
    if (r.status !== 0) throw new Error(`build_model.py ${missing.join(' ')} failed (exit ${r.status}):\n${r.stderr?.slice(-4000)}`);
  }
  return Object.fromEntries(specs.map((s) => [s, dirOf(s)]));
}
