// Creating onnxruntime-node sessions on the device the user asked for.
// onnxruntime-node has no automatic provider fallback: a provider that cannot start throws
// at session creation (even when `cpu` is listed after it). So `auto` tries one provider per
// attempt, in order of speed, and remembers why the others failed for the user to see.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import type { DataType } from './ir';
import type { InMemoryExternalData } from './proto';

export type DeviceRequest = 'auto' | 'cpu' | 'cuda' | 'webgpu';
export type Device = 'cpu' | 'cuda' | 'webgpu';

export interface SessionChoice {
  session: ort.InferenceSession;
  device: Device;
  /** Under `auto`: which device was chosen and, briefly, why faster ones were not. */
  note?: string;
}

export interface SessionOptions {
  device: DeviceRequest;
  /** Intra-op threads (default: os.availableParallelism()). */
  threads?: number;
  /** ORT graph optimisation level (default `all`; `extended`/`all` work on training graphs). */
  optimization?: 'disabled' | 'basic' | 'extended' | 'all';
  /** Write an ORT profile (JSON in the working directory; end it with `session.endProfiling()`). */
  profile?: boolean;
  /** Initializers kept out of the model bytes (see proto.ts modelToSessionInput). */
  externalData?: readonly InMemoryExternalData[];
  /**
   * Let ORT pre-pack constant MatMul/Gemm weights (default true). A training step reads each
   * frozen weight twice, as W (forward) and as W^T (input gradient, Gemm transB): pre-packing
   * keeps one packed copy per layout, twice the weights' memory; unpacked, ORT packs panels
   * on the fly, which cost 0-7% of the step time in our measurements.
   */
  prepack?: boolean;
  /**
   * Let ORT plan all intermediates into one block from the first run (default true). For a
   * training step the plan was about twice the live set (768x12 encoder: ~1070 MB vs ~500 MB
   * live); allocating from the arena as it runs holds ~580 MB at no measurable time cost.
   */
  memoryPattern?: boolean;
  /**
   * Keep freed intermediates in ORT's CPU arena for the next run (default true). The arena
   * never shrinks and is per session, so a run with several sessions (length buckets, the eval
   * session) holds the sum of their peaks; without it, a run's intermediates go back to the
   * system when it ends and the process peak is the largest single run's.
   */
  memoryArena?: boolean;
}

const FIX_HINT: Record<Exclude<Device, 'cpu'>, string> = {
  cuda:
    'The CUDA provider is not bundled with onnxruntime-node. On a machine with CUDA 12 and cuDNN 9, reinstall it with ' +
    '`npm install onnxruntime-node --onnxruntime-node-install=cuda12` (or the .npmrc line `onnxruntime-node-install=cuda12`), ' +
    'or set "runtime": {"device": "cpu"} (or "auto") in the config.',
  webgpu:
    'WebGPU needs a GPU reachable through Vulkan (Linux: install libvulkan1 and a GPU driver), Metal (macOS) or D3D12 (Windows). ' +
    'Otherwise set "runtime": {"device": "cpu"} (or "auto") in the config.',
};

/** The folder holding onnxruntime-node's native binding, where optional provider libraries are installed. */
function bindingDir(): string {
  const pkg = path.dirname(require.resolve('onnxruntime-node/package.json'));
  return path.join(pkg, 'bin', 'napi-v6', process.platform, process.arch);
}

/** True when the CUDA provider library has been installed beside the binding. */
export function cudaProviderInstalled(): boolean {
  const lib = process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so';
  try {
    return fs.existsSync(path.join(bindingDir(), lib));
  } catch {
    return false;
  }
}

/**
 * Linux only: WebGPU (Dawn) reaches the GPU through Vulkan. Without a Vulkan loader the attempt
 * cannot succeed and only prints a native warning to stderr, so `auto` skips it quietly.
 * An explicit `webgpu` still tries (and explains the failure).
 */
export function vulkanLoaderMissing(): boolean {
  if (process.platform !== 'linux') return false;
  const dirs = [
    ...(process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean),
    '/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/lib/x86_64-linux-gnu', '/lib/aarch64-linux-gnu',
    '/usr/lib64', '/usr/lib', '/usr/local/lib', '/lib64', '/lib',
  ];
  return !dirs.some((d) => fs.existsSync(path.join(d, 'libvulkan.so.1')));
}

function listed(name: string): boolean {
  return ort.listSupportedBackends().some((b) => b.name === name);
}

/** The first line of an ORT error, without ORT's source-location prefix, so notes stay short. */
function shortReason(e: unknown): string {
  let msg = (e instanceof Error ? e.message : String(e)).trim().split('\n')[0];
  // ORT_ENFORCE messages read "<file>:<line> <function> <condition> was false. <reason>".
  const enforced = msg.indexOf(' was false. ');
  if (enforced >= 0) msg = msg.slice(enforced + ' was false. '.length);
  return msg.length > 160 ? msg.slice(0, 157) + '...' : msg;
}

function sessionOptions(device: Device, opts: SessionOptions): ort.InferenceSession.SessionOptions {
  const threads = opts.threads ?? os.availableParallelism();
  if (!Number.isInteger(threads) || threads < 1) {
    throw new Error(`runtime.threads: expected a positive integer, got ${threads}`);
  }
  return {
    executionProviders: [device],
    intraOpNumThreads: threads,
    graphOptimizationLevel: opts.optimization ?? 'all',
    enableProfiling: opts.profile ?? false,
    // onnxruntime-node refuses enableProfiling without a file prefix.
    ...(opts.profile ? { profileFilePrefix: 'onnxruntime_profile' } : {}),
    ...(opts.externalData ? { externalData: opts.externalData.map((f) => ({ path: f.path, data: f.data })) } : {}),
    extra: {
      ...(opts.prepack === false ? { 'session.disable_prepacking': '1' } : {}),
      // Each session has its own intra-op thread pool, whose workers keep spinning for a while
      // after a run returns. When the next run is another session's (a length bucket, the eval
      // graph), those spinning workers take a core from it: BERT 512x6, 2 threads, buckets taken
      // in turn: 129/232/343/466 ms per step at lengths 32/64/96/128, 102/193/296/404 ms with the
      // spinning stopped when each run returns (one session alone: unchanged, 101 ms at 32).
      'session.force_spinning_stop': '1',
    },
    ...(opts.memoryPattern === false ? { enableMemPattern: false } : {}),
    ...(opts.memoryArena === false ? { enableCpuMemArena: false } : {}),
  };
}

async function open(model: Uint8Array | string, device: Device, opts: SessionOptions): Promise<ort.InferenceSession> {
  const o = sessionOptions(device, opts);
  return typeof model === 'string' ? ort.InferenceSession.create(model, o) : ort.InferenceSession.create(model, o);
}

function modelLabel(model: Uint8Array | string): string {
  return typeof model === 'string' ? model : `in-memory model (${model.byteLength} bytes)`;
}

/**
 * Opens `model` (a path, or serialized bytes) on the requested device.
 * - `cpu`, `cuda`, `webgpu`: that provider or a clear error saying how to fix it.
 * - `auto`: CUDA (only when its provider library is installed), then WebGPU, then CPU;
 *   `note` says which one was chosen and why the others were skipped.
 * Errors in the model itself (not the device) are thrown as they are, naming the model.
 */
export async function createSession(model: Uint8Array | string, opts: SessionOptions): Promise<SessionChoice> {
  const label = modelLabel(model);
  if (opts.device === 'cpu') {
    return { session: await openOrExplain(model, 'cpu', opts, label), device: 'cpu' };
  }
  if (opts.device === 'cuda' || opts.device === 'webgpu') {
    const device = opts.device;
    if (device === 'cuda' && !cudaProviderInstalled()) {
      throw new Error(`runtime.device "cuda": the CUDA execution provider is not installed. ${FIX_HINT.cuda}`);
    }
    try {
      return { session: await open(model, device, opts), device };
    } catch (e) {
      throw new Error(`runtime.device "${device}": cannot start the ${device} execution provider for ${label}: ${shortReason(e)}. ${FIX_HINT[device]}`);
    }
  }
  if (opts.device !== 'auto') {
    throw new Error(`runtime.device: expected "auto", "cpu", "cuda" or "webgpu", got ${JSON.stringify(opts.device)}`);
  }

  const skipped: string[] = [];
  for (const device of AUTO_GPUS) {
    const skip = autoSkips(device);
    if (skip) {
      skipped.push(skip);
      continue;
    }
    try {
      const session = await open(model, device, opts);
      return { session, device, note: noteFor(device, skipped) };
    } catch (e) {
      skipped.push(`${device}: ${shortReason(e)}`);
    }
  }
  const session = await openOrExplain(model, 'cpu', opts, label);
  return { session, device: 'cpu', note: noteFor('cpu', skipped) };
}

/** The GPU providers `auto` tries, in order, before the CPU. */
const AUTO_GPUS: Exclude<Device, 'cpu'>[] = ['cuda', 'webgpu'];

/** Why `auto` skips a GPU provider without trying it; undefined when it will try it. */
function autoSkips(device: Exclude<Device, 'cpu'>): string | undefined {
  if (!listed(device)) return `${device}: not supported by this onnxruntime-node build`;
  // Trying CUDA without its library makes ORT print a long error to stderr: skip it quietly.
  if (device === 'cuda' && !cudaProviderInstalled()) return 'cuda: provider not installed';
  if (device === 'webgpu' && vulkanLoaderMissing()) return 'webgpu: no Vulkan loader (libvulkan.so.1)';
  return undefined;
}

/** Whether `auto` would try a GPU provider on this machine; false: it runs on the CPU. */
export function autoTriesGpu(): boolean {
  return AUTO_GPUS.some((d) => autoSkips(d) === undefined);
}

function noteFor(device: Device, skipped: string[]): string {
  return skipped.length === 0 ? `using ${device}` : `using ${device} (${skipped.join('; ')})`;
}

async function openOrExplain(model: Uint8Array | string, device: Device, opts: SessionOptions, label: string): Promise<ort.InferenceSession> {
  try {
    return await open(model, device, opts);
  } catch (e) {
    throw new Error(`cannot load ${label} in onnxruntime (${device}): ${(e as Error).message.trim()}`);
  }
}

// ---------------------------------------------------------------------------
// Tensor helpers

type OrtNumericData = Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | BigUint64Array;

/** An ORT tensor over existing data (no copy). Checks that the element count matches the dims. */
export function ortTensor(dtype: Exclude<DataType, 'string' | 'bfloat16'>, data: OrtNumericData, dims: readonly number[]): ort.Tensor {
  const n = dims.reduce((a, b) => a * b, 1);
  if (data.length !== n) {
    throw new Error(`ortTensor: ${data.length} elements for dims ${JSON.stringify(dims)} (expected ${n})`);
  }
  const t = dtype === 'bool' ? 'bool' : dtype;
  return new ort.Tensor(t as 'float32', data as Float32Array, dims);
}

/** A float32 tensor of zeros, e.g. to preallocate an output (pass `{name: tensor}` as the 2nd argument of `run`). */
export function zerosF32(dims: readonly number[]): ort.Tensor {
  return new ort.Tensor('float32', new Float32Array(dims.reduce((a, b) => a * b, 1)), dims);
}

/** An int64 tensor from plain numbers (token ids, masks). */
export function ortInt64(values: ArrayLike<number>, dims: readonly number[]): ort.Tensor {
  const data = BigInt64Array.from(Array.from(values, (v) => BigInt(v)));
  return ortTensor('int64', data, dims);
}
