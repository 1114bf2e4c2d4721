// The bench's batches on our side, made by the engine's own data code (collate with
// data.padding, packRows/packExamples/packClassExamples/collatePacked for data.packing) from the shared
// tokenized examples (data.json, written by bench/run.mjs from a real corpus's length histogram).
import * as ort from 'onnxruntime-node';
import { mulberry32 } from '../../native-runtime/adapters/init';
import type { ValueInfo } from '../../native-runtime/onnx/ir';
import { collate, collatePacked, type Batch } from '../../native-runtime/train/data/batch';
import { IGNORE_INDEX, type LabelScheme } from '../../native-runtime/train/data/labels';
import { packClassExamples, packExamples, packRows } from '../../native-runtime/train/data/packing';
import { paddedLength, type PaddingPolicy } from '../../native-runtime/train/data/padding';
import { DOCUMENT_STARTS, type Example } from '../../native-runtime/train/data/record';

export interface BenchExample { ids: number[]; label?: number }
export interface BenchData { train: BenchExample[]; eval: BenchExample[][] }

export type Task = 'sequence-classification' | 'causal-lm';

/** An engine Example as record.ts makes it: sequences padded to `T` on the right. */
export function toEngineExample(e: BenchExample, T: number, inputs: ValueInfo[], task: Task): Example {
  const ids = e.ids.slice(0, T);
  const n = ids.length;
  const pad = (a: number[], v: number) => [...a, ...new Array<number>(T - a.length).fill(v)];
  const map = new Map<string, { data: number[]; dims: number[] }>();
  for (const m of inputs) {
    if (m.name === 'input_ids') map.set(m.name, { data: pad(ids, 0), dims: [T] });
    else if (m.name === 'attention_mask') map.set(m.name, { data: pad(ids.map(() => 1), 0), dims: [T] });
    else if (m.name === 'position_ids') map.set(m.name, { data: Array.from({ length: T }, (_, i) => i), dims: [T] });
    else if (m.name === DOCUMENT_STARTS) continue; // per batch (collate / packClassExamples)
    else throw new Error(`bench: the model input ${m.name} is not one the bench makes (input_ids, attention_mask, position_ids, ${DOCUMENT_STARTS})`);
  }
  const label = task === 'causal-lm' ? pad(ids, IGNORE_INDEX) : e.label!;
  return { inputs: map, label, tokens: n, extent: n, line: 0 };
}

/** Yields the training batches in order, cycling through the examples (or packed rows). */
export class BatchStream {
  private cursor = 0;
  private readonly rows?: number[][];
  private readonly scheme: LabelScheme;
  /** Document slots per row of a packed classifier (as the pipeline: the most any row holds). */
  private readonly slots: number = 1;

  constructor(private readonly data: BenchData, private readonly batch: number, private readonly T: number,
    private readonly inputs: ValueInfo[], private readonly task: Task, private readonly policy: PaddingPolicy, packing: boolean) {
    this.scheme = task === 'causal-lm' ? { kind: 'lm' } : { kind: 'class', numLabels: 2, tokenLevel: false };
    if (packing) {
      // packRows returns rows longest documents first; shuffle them (seeded) as the engine's
      // batch plan does, so that the timed steps hold typical rows, not the fullest ones.
      const rows = packRows(data.train.map((e) => Math.min(e.ids.length, T)), T);
      const rand = mulberry32(20261206);
      for (let i = rows.length - 1; i > 0; i--) {
        const j = Math.floor(rand() * (i + 1));
        [rows[i], rows[j]] = [rows[j], rows[i]];
      }
      this.rows = rows;
    }
    if (this.rows && task === 'sequence-classification') this.slots = Math.max(...this.rows.map((r) => r.length));
  }

  next(): Batch {
    const start = this.cursor;
    this.cursor += this.batch;
    if (this.rows) {
      const rows = Array.from({ length: this.batch }, (_, i) => this.rows![(start + i) % this.rows!.length]);
      const packed = rows.map((docs) => {
        const examples = docs.map((d) => this.example(this.data.train[d]));
        return this.task === 'sequence-classification' ? packClassExamples(examples, this.T, 0, this.slots) : packExamples(examples, this.T, 0);
      });
      return collatePacked(packed, this.inputs, rows.map((r) => r[0]));
    }
    const picked = Array.from({ length: this.batch }, (_, i) => this.example(this.data.train[(start + i) % this.data.train.length]));
    return this.collate(picked);
  }

  /** Every padded length the unpacked training batches of one pass over the examples have (ascending). */
  lengthsOfOnePass(): number[] {
    const out = new Set<number>();
    const train = this.data.train;
    for (let s = 0; s < train.length; s += this.batch) {
      const longest = Math.max(...Array.from({ length: this.batch }, (_, i) => Math.min(train[(s + i) % train.length].ids.length, this.T)));
      out.add(paddedLength(this.policy, longest));
    }
    return [...out].sort((x, y) => x - y);
  }

  /** An eval group as `lily train` pads eval batches (data.padding; never packed). */
  evalBatch(group: BenchExample[]): Batch {
    return this.collate(group.map((e) => this.example(e)));
  }

  private collate(examples: Example[]): Batch {
    return collate(examples, this.inputs, this.scheme, paddedLength(this.policy, Math.max(...examples.map((e) => e.extent))), this.slots);
  }

  private example(e: BenchExample): Example {
    return toEngineExample(e, this.T, this.inputs, this.task);
  }
}

export function feedsOf(b: Batch): Record<string, ort.Tensor> {
  return b.tensors;
}
