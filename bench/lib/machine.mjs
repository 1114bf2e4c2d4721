// What the numbers were measured on: CPU model, cores, load, versions.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

function cpuFlags() {
  try {
    const flags = /^flags\s*:\s*(.*)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1].split(' ') ?? [];
    return ['avx2', 'avx512f', 'avx512_bf16', 'amx_tile'].filter((f) => flags.includes(f));
  } catch {
    return [];
  }
}

function torchVersion(python) {
  try {
    return execFileSync(python, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1' } }).trim();
  } catch (e) {
    throw new Error(`${python} cannot import torch (${e.message.split('\n')[0]}); run scripts/setup-python.sh (the project venv, torch 2.13) or set LILY_PYTHON`);
  }
}

export function machineInfo(python, threads) {
  return {
    cpu_model: os.cpus()[0]?.model ?? 'unknown',
    cpu_flags: cpuFlags(),
    cores: os.availableParallelism(),
    threads,
    memory_gb: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    onnxruntime_node: require('onnxruntime-node/package.json').version,
    torch: torchVersion(python),
  };
}

export function loadAverage() {
  return os.loadavg().map((x) => Math.round(x * 100) / 100);
}
