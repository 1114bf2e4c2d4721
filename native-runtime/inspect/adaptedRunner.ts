// Runs the inspection graph (adapter injected, tensors as inputs, per-token router
// probabilities exposed) with given adapter values: one ORT session for every batch shape,
// so the trainer's evaluation hook can feed the current parameters at each evaluation.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import type { AdapterSettings } from '../io/adapterWeights';
import type { Model } from '../onnx/ir';
import { modelToBytes, saveModel } from '../onnx/proto';
import { createSession, type DeviceRequest } from '../onnx/session';
import type { Injection } from '../adapters/inject';
import { buildAdaptedModel, type AdaptedModelOptions } from './adaptedModel';

export interface AdaptedRunnerOptions extends Omit<AdaptedModelOptions, 'exposeTokenProbs'> {
  device?: DeviceRequest;
  threads?: number;
}

export interface AdaptedOutputs {
  outputs: Record<string, ort.Tensor>;
  /** Lily: per-row router probabilities [rows, num_B] per adapted layer (module path). */
  tokenProbs: Map<string, Float32Array>;
}

const LARGE_MODEL_BYTES = 1.5 * 1024 ** 3;

export class AdaptedRunner {
  private constructor(
    readonly injection: Injection,
    private readonly session: ort.InferenceSession,
    /** The model's own inputs (the data a batch must provide). */
    readonly dataInputs: string[],
    /** Scratch folder holding a large model's file (removed on release). */
    private readonly scratch?: string,
  ) {}

  static async create(base: Model, settings: AdapterSettings, opts: AdaptedRunnerOptions = {}): Promise<AdaptedRunner> {
    const { model, injection } = await buildAdaptedModel(base, settings, { ...opts, exposeTokenProbs: true });
    // Protobuf cannot hold 2 GB: a large model goes through a file with external data.
    let bytes = 0;
    for (const t of model.graph.initializers.values()) bytes += (t.data as { byteLength?: number }).byteLength ?? 0;
    const scratch = bytes > LARGE_MODEL_BYTES ? fs.mkdtempSync(path.join(os.tmpdir(), 'lily-inspect-')) : undefined;
    let source: Uint8Array | string;
    if (scratch) {
      source = path.join(scratch, 'inspect.onnx');
      saveModel(model, source, { externalData: true });
    } else source = modelToBytes(model);
    const { session } = await createSession(source, { device: opts.device ?? 'cpu', threads: opts.threads });
    const params = new Set(injection.params.map((p) => p.name));
    return new AdaptedRunner(injection, session, model.graph.inputs.map((i) => i.name).filter((n) => !params.has(n)), scratch);
  }

  /**
   * Runs `inputs` with adapter tensors from `values` (by internal name); tensors missing from
   * `values` (e.g. modules_to_save absent from a PEFT file) use the injection's initial values.
   */
  async run(inputs: Record<string, ort.Tensor>, values: Map<string, Float32Array>): Promise<AdaptedOutputs> {
    const feeds: Record<string, ort.Tensor> = {};
    for (const name of this.dataInputs) {
      const t = inputs[name];
      if (!t) throw new Error(`model input "${name}" is missing from the batch (it has ${Object.keys(inputs).join(', ')})`);
      feeds[name] = t;
    }
    for (const p of this.injection.params) {
      const v = values.get(p.name) ?? p.init;
      if (v.length !== p.init.length) throw new Error(`adapter tensor "${p.name}" has ${v.length} values, expected ${p.init.length} (shape [${p.dims.join(', ')}])`);
      feeds[p.name] = new ort.Tensor('float32', v, p.dims);
    }
    const outputs = await this.session.run(feeds);
    const tokenProbs = new Map<string, Float32Array>();
    for (const l of this.injection.layers) if (l.tokenProbsOutput) tokenProbs.set(l.module, outputs[l.tokenProbsOutput].data as Float32Array);
    return { outputs, tokenProbs };
  }

  async release(): Promise<void> {
    await this.session.release();
    if (this.scratch) fs.rmSync(this.scratch, { recursive: true, force: true });
  }
}
