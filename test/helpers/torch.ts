// Runs a Python snippet under the project venv's PyTorch (the independent oracle) with JSON in and out.
import { spawnSync } from 'child_process';
import { projectPython } from '../../scripts/projectPython.cjs';

/** The project's Python (scripts/projectPython.cjs): .venv/bin/python or $LILY_PYTHON. */
export { projectPython };

/** Runs `code` (which reads `inp` and must assign `out`) and returns `out`, JSON-decoded. */
export function runTorch<T = unknown>(code: string, inp: unknown): T {
  const wrapper = `import json, sys\nimport torch\ntorch.set_default_dtype(torch.float64)\ninp = json.load(sys.stdin)\n${code}\nprint(json.dumps(out))\n`;
  const r = spawnSync(projectPython(), ['-c', wrapper], {
    input: JSON.stringify(inp),
    encoding: 'utf8',
    env: { ...process.env, OMP_NUM_THREADS: '1' },
    maxBuffer: 256 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`torch oracle failed (exit ${r.status}):\n${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}
