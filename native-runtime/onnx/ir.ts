// A small typed graph IR for ONNX models. Everything in the backend (specialisation,
// autodiff, adapter injection, the training-step builder) works on this, never on the
// protobuf objects: `proto.ts` converts at the edges.

export type DataType =
  | 'float32' | 'float16' | 'bfloat16' | 'float64'
  | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'uint16' | 'uint32' | 'uint64'
  | 'bool' | 'string';

/** A dimension: a number when known, a symbolic name (e.g. "batch") when dynamic. */
export type Dim = number | string;

export interface ValueInfo {
  name: string;
  dtype: DataType;
  /** Undefined when the rank is unknown. */
  shape?: Dim[];
}

export type TensorData =
  | Float32Array | Float64Array | BigInt64Array | BigUint64Array | Int32Array | Uint32Array
  | Int16Array | Uint16Array | Int8Array | Uint8Array | string[];

/** A constant tensor (initializer or attribute). float16/bfloat16 data are raw Uint16Array bits. */
export interface Tensor {
  name: string;
  dtype: DataType;
  dims: number[];
  data: TensorData;
  /** Where the values lie in an external data file, for tensors loaded lazily (onnx/proto.ts lazyExternalBytes). */
  external?: { file: string; offset: number; length: number };
}

export type AttrValue =
  | { kind: 'float'; value: number }
  | { kind: 'int'; value: number }
  | { kind: 'string'; value: string }
  | { kind: 'floats'; value: number[] }
  | { kind: 'ints'; value: number[] }
  | { kind: 'strings'; value: string[] }
  | { kind: 'tensor'; value: Tensor }
  | { kind: 'graph'; value: Graph };

export interface Node {
  name: string;
  opType: string;
  /** '' (or 'ai.onnx') for the default domain. */
  domain: string;
  /** '' marks an omitted optional input. */
  inputs: string[];
  outputs: string[];
  attrs: Record<string, AttrValue>;
  /** The node's metadata_props, when the file has any (dynamo exports keep module paths there). */
  metadata?: Record<string, string>;
}

export interface Graph {
  name: string;
  nodes: Node[];
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  initializers: Map<string, Tensor>;
  /** Known types/shapes of intermediate values. */
  valueInfo: Map<string, ValueInfo>;
}

export interface OpsetImport {
  domain: string;
  version: number;
}

export interface Model {
  graph: Graph;
  opsetImports: OpsetImport[];
  irVersion: number;
  producerName: string;
  metadata: Record<string, string>;
}

// ---------------------------------------------------------------------------
// Attribute constructors. JS cannot tell 1 from 1.0, so float attributes are explicit.

export const attr = {
  f: (value: number): AttrValue => ({ kind: 'float', value }),
  i: (value: number): AttrValue => ({ kind: 'int', value }),
  s: (value: string): AttrValue => ({ kind: 'string', value }),
  floats: (value: number[]): AttrValue => ({ kind: 'floats', value }),
  ints: (value: number[]): AttrValue => ({ kind: 'ints', value }),
  t: (value: Tensor): AttrValue => ({ kind: 'tensor', value }),
};

export function getAttrInt(node: Node, name: string, dflt: number): number;
export function getAttrInt(node: Node, name: string): number | undefined;
export function getAttrInt(node: Node, name: string, dflt?: number): number | undefined {
  const a = node.attrs[name];
  if (!a) return dflt;
  if (a.kind !== 'int') throw new Error(`node ${node.name} (${node.opType}): attribute ${name} is ${a.kind}, expected int`);
  return a.value;
}

export function getAttrFloat(node: Node, name: string, dflt: number): number {
  const a = node.attrs[name];
  if (!a) return dflt;
  if (a.kind === 'float' || a.kind === 'int') return a.value;
  throw new Error(`node ${node.name} (${node.opType}): attribute ${name} is ${a.kind}, expected float`);
}

export function getAttrInts(node: Node, name: string): number[] | undefined {
  const a = node.attrs[name];
  if (!a) return undefined;
  if (a.kind !== 'ints') throw new Error(`node ${node.name} (${node.opType}): attribute ${name} is ${a.kind}, expected ints`);
  return a.value;
}

export function getAttrString(node: Node, name: string, dflt: string): string {
  const a = node.attrs[name];
  if (!a) return dflt;
  if (a.kind !== 'string') throw new Error(`node ${node.name} (${node.opType}): attribute ${name} is ${a.kind}, expected string`);
  return a.value;
}

// ---------------------------------------------------------------------------
// Tensors

export function tensorSize(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

export function floatTensor(name: string, dims: number[], data?: ArrayLike<number>): Tensor {
  const arr = new Float32Array(tensorSize(dims));
  if (data) arr.set(data);
  return { name, dtype: 'float32', dims, data: arr };
}

export function int64Tensor(name: string, dims: number[], data: ArrayLike<number | bigint>): Tensor {
  const arr = new BigInt64Array(tensorSize(dims));
  for (let i = 0; i < arr.length; i++) arr[i] = BigInt(data[i]);
  return { name, dtype: 'int64', dims, data: arr };
}

/** Reads an integer tensor (int64/int32/...) as JS numbers, e.g. for shapes and axes. */
export function tensorToNumbers(t: Tensor): number[] {
  const out: number[] = [];
  const d = t.data as ArrayLike<number | bigint>;
  for (let i = 0; i < d.length; i++) out.push(Number(d[i]));
  return out;
}

export function emptyGraph(name = 'graph'): Graph {
  return { name, nodes: [], inputs: [], outputs: [], initializers: new Map(), valueInfo: new Map() };
}

/** The default-domain opset version of a model (17 when absent). */
export function defaultOpset(model: Model): number {
  const imp = model.opsetImports.find((o) => o.domain === '' || o.domain === 'ai.onnx');
  return imp ? imp.version : 17;
}

// ---------------------------------------------------------------------------
// Builder: emits nodes with unique names into a graph. Temporaries are prefixed by a scope
// (ORT's convention: the forward node's name), which keeps dumped graphs readable.

export class GraphBuilder {
  private readonly used = new Set<string>();
  private counter = 0;

  constructor(readonly graph: Graph) {
    for (const n of graph.nodes) {
      this.used.add(n.name);
      for (const o of n.outputs) this.used.add(o);
    }
    for (const i of graph.inputs) this.used.add(i.name);
    for (const k of graph.initializers.keys()) this.used.add(k);
  }

  /** A name not yet used in the graph, derived from `base`. */
  fresh(base: string): string {
    let name = base;
    while (this.used.has(name)) name = `${base}_${++this.counter}`;
    this.used.add(name);
    return name;
  }

  /** Appends a node; returns its output names (fresh names derived from `scope`/opType). */
  op(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, opts: { outputs?: number | string[]; scope?: string; domain?: string } = {}): string[] {
    const scope = opts.scope ?? opType;
    const name = this.fresh(`${scope}/${opType}`);
    const outs = Array.isArray(opts.outputs)
      ? opts.outputs.map((o) => { this.used.add(o); return o; })
      : Array.from({ length: opts.outputs ?? 1 }, (_, k) => this.fresh(`${name}_out${k}`));
    this.graph.nodes.push({ name, opType, domain: opts.domain ?? '', inputs, outputs: outs, attrs });
    return outs;
  }

  /** Single-output convenience. */
  op1(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, scope?: string): string {
    return this.op(opType, inputs, attrs, { scope })[0];
  }

  /** Adds a constant initializer and returns its name. */
  constant(t: Omit<Tensor, 'name'> & { name?: string }): string {
    const name = this.fresh(t.name ?? 'const');
    this.graph.initializers.set(name, { ...t, name } as Tensor);
    return name;
  }

  constInt64(values: number[], scalar = false, base = 'const_i64'): string {
    return this.constant({ name: base, dtype: 'int64', dims: scalar ? [] : [values.length], data: BigInt64Array.from(values.map(BigInt)) });
  }

  constFloat(values: number[] | number, base = 'const_f32', dims?: number[]): string {
    const arr = Array.isArray(values) ? values : [values];
    return this.constant({ name: base, dtype: 'float32', dims: dims ?? (Array.isArray(values) ? [arr.length] : []), data: Float32Array.from(arr) });
  }
}

/** Whether `n` is the default-domain (ONNX) operator `op`. */
export function isOnnxOp(n: Node | undefined, op: string): n is Node {
  return !!n && n.opType === op && (n.domain === '' || n.domain === 'ai.onnx');
}

/** ValueInfo of a value from valueInfo, inputs, outputs or initializers; undefined if unknown. */
export function findValueInfo(graph: Graph, name: string): ValueInfo | undefined {
  const vi = graph.valueInfo.get(name);
  if (vi) return vi;
  const init = graph.initializers.get(name);
  if (init) return { name, dtype: init.dtype, shape: init.dims };
  return graph.inputs.find((v) => v.name === name) ?? graph.outputs.find((v) => v.name === name);
}

/**
 * A value's only reader, for rewrites that may remove what they match: undefined when the value
 * is a graph output or has no reader or several. `users`: consumers(graph), computed once.
 */
export function soleReader(graph: Graph, users: Map<string, Node[]>): (v: string) => Node | undefined {
  const outputs = new Set(graph.outputs.map((o) => o.name));
  return (v) => {
    const r = users.get(v) ?? [];
    return !outputs.has(v) && r.length === 1 ? r[0] : undefined;
  };
}

/** Map from a value name to the node producing it. */
export function producers(graph: Graph): Map<string, Node> {
  const m = new Map<string, Node>();
  for (const n of graph.nodes) for (const o of n.outputs) if (o) m.set(o, n);
  return m;
}

/** Map from a value name to the nodes consuming it. */
export function consumers(graph: Graph): Map<string, Node[]> {
  const m = new Map<string, Node[]>();
  for (const n of graph.nodes) {
    for (const i of n.inputs) {
      if (!i) continue;
      let list = m.get(i);
      if (!list) m.set(i, (list = []));
      list.push(n);
    }
  }
  return m;
}
