// Shared by the weights_dtype tests (test/quant/weightsDtype.test.ts, test/memory/tiedHead.test.ts):
// the float32 reference a quantized step is compared with, and the comparison itself.
import { strict as assert } from 'assert';
import type * as ort from 'onnxruntime-node';
import type { Model } from '../../native-runtime/onnx/ir';
import { dequantize, type QuantizedWeight } from '../../native-runtime/quant/formats';
import type { StepResult, StepRunner } from '../../native-runtime/train/stepRunner';

/** `model` with the named float32 weights replaced by their dequantized stored values. */
export function withDequantized(model: Model, store: Map<string, QuantizedWeight>, names: readonly string[]): Model {
  const initializers = new Map(model.graph.initializers);
  for (const name of names) initializers.set(name, { ...initializers.get(name)!, data: dequantize(store.get(name)!) });
  return { ...model, graph: { ...model.graph, initializers } };
}

/**
 * Runs `steps` steps of both runners on `batch` and asserts, each step, the loss to 1e-5 relative
 * and every adapter gradient to 1e-4 of its largest entry; returns the reference's results.
 */
export async function assertStepsAgree(quant: StepRunner, ref: StepRunner, batch: Record<string, ort.Tensor>, steps: number, lr: number): Promise<StepResult[]> {
  const out: StepResult[] = [];
  for (let step = 0; step < steps; step++) {
    const a = await quant.step(batch, lr);
    const b = await ref.step(batch, lr);
    assert.ok(Math.abs(a.loss - b.loss) <= 1e-5 * Math.abs(b.loss), `step ${step}: loss ${a.loss} vs ${b.loss}`);
    for (const [name, gb] of b.grads!) {
      const ga = a.grads!.get(name)!;
      const scale = Math.max(1e-12, ...Array.from(gb, Math.abs));
      let worst = 0;
      gb.forEach((v, i) => { worst = Math.max(worst, Math.abs(v - ga[i]) / scale); });
      assert.ok(worst <= 1e-4, `step ${step} ${name}: gradient differs by ${worst} of its largest entry`);
    }
    out.push(b);
  }
  return out;
}
