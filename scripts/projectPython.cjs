// The one place that says which Python the tests, the oracle and the bench run: the project's
// venv (scripts/setup-python.sh makes it from scripts/python-requirements.txt: torch 2.13.0 CPU,
// transformers, peft, optimum-onnx, onnx, onnxruntime). LILY_PYTHON names another interpreter;
// LILY_VENV another venv (as setup-python.sh reads it). Plain CommonJS so that the TypeScript
// tests (through tsx) and the bench's .mjs scripts share it.
'use strict';
const fs = require('fs');
const path = require('path');

const ROOT = path.resolve(__dirname, '..');

/** The interpreter's path (not checked; see `projectPython`). */
function projectPythonPath() {
  if (process.env.LILY_PYTHON) return process.env.LILY_PYTHON;
  const venv = process.env.LILY_VENV || path.join(ROOT, '.venv');
  return path.join(venv, 'bin', process.platform === 'win32' ? 'python.exe' : 'python');
}

/** The interpreter's path; throws, naming scripts/setup-python.sh, when it is not there. */
function projectPython() {
  const py = projectPythonPath();
  // A bare command name (LILY_PYTHON=python3) is left to PATH lookup at spawn time.
  if (py.includes(path.sep) && !fs.existsSync(py)) {
    const from = process.env.LILY_PYTHON ? 'LILY_PYTHON' : process.env.LILY_VENV ? 'LILY_VENV' : 'the project venv';
    throw new Error(`no Python at ${py} (${from}): run \`bash scripts/setup-python.sh\` (npm test runs it) to create the venv with scripts/python-requirements.txt, or set LILY_PYTHON to an interpreter that has them`);
  }
  return py;
}

module.exports = { projectPython, projectPythonPath, ROOT };
