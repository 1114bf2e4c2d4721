// Gradient clipping and optimizer updates as graph nodes, with PyTorch's exact formulas, so a
// whole training step is one session.run. The learning rate and the step number are scalar
// graph inputs (the schedule lives in JS); parameters and optimizer states go in as inputs and
// come out updated as outputs, which the runner swaps into the next step's inputs.
//
// AdamW (torch.optim.AdamW, non-fused, amsgrad off):
//   p <- p * (1 - lr*wd);  m <- b1 m + (1-b1) g;  v <- b2 v + (1-b2) g^2
//   p <- p - (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
// SGD (torch.optim.SGD, dampening 0, no nesterov): g <- g + wd p;  buf <- momentum buf + g
//   (torch starts buf at g, which equals this from buf = 0);  p <- p - lr buf
// Clipping (torch.nn.utils.clip_grad_norm_, L2): norm = sqrt(sum of all g^2);
//   g <- g * min(1, max_norm / (norm + 1e-6)).
import type { Emitter } from '../adapters/emit';

export interface OptimizerOptions {
  optimizer: 'adamw' | 'sgd';
  betas: [number, number];
  eps: number;
  weight_decay: number;
  momentum: number;
  /** 0 disables clipping (the norm is still reported). */
  max_grad_norm: number;
}

export interface ParamRef {
  name: string;
  dims: number[];
}

export interface OptimizerState {
  /** State tensor input names for this parameter, in a fixed order (AdamW: exp_avg, exp_avg_sq; SGD: momentum_buffer). */
  inputs: string[];
  /** The matching updated-state outputs. */
  outputs: string[];
}

export interface OptimizerGraph {
  /** Scalar float32 inputs. */
  lrInput: string;
  /** 1-based number of this step (AdamW bias correction); fed as float32. */
  stepInput: string;
  /** Scalar float32 output: the global L2 norm of the gradients before clipping. */
  gradNormOutput: string;
  /** Per parameter: its updated-value output. */
  paramOutputs: Map<string, string>;
  /** Per parameter: its optimizer state tensors (same shape as the parameter). */
  states: Map<string, OptimizerState>;
  /** State slot names (suffixes), e.g. ['exp_avg', 'exp_avg_sq']. */
  stateSlots: string[];
}

export function stateSlots(optimizer: 'adamw' | 'sgd', momentum: number): string[] {
  if (optimizer === 'adamw') return ['exp_avg', 'exp_avg_sq'];
  return momentum > 0 ? ['momentum_buffer'] : [];
}

/** Appends clipping and the update of every parameter; adds the scalar inputs and all outputs to the graph. */
export function addOptimizer(e: Emitter, params: ParamRef[], grads: Map<string, string>, o: OptimizerOptions, names = { lr: 'lr', step: 'step', gradNorm: 'grad_norm' }): OptimizerGraph {
  const g = e.b.graph;
  const scope = 'optimizer';
  const scalarInput = (name: string) => {
    g.inputs.push({ name, dtype: 'float32', shape: [] });
    return name;
  };
  const lr = scalarInput(names.lr);
  const step = scalarInput(names.step);
  const c = (v: number, what: string) => e.scalar(v, `${scope}/${what}`);

  // Global norm over every gradient.
  const sumsq = params.map((p) => {
    const gr = gradOf(grads, p.name);
    return e.setShape(e.reduceSum(e.op('Mul', [gr, gr], {}, p.dims, scope), undefined, false, scope), []);
  });
  const total = sumsq.length === 1 ? sumsq[0] : e.op('Sum', sumsq, {}, [], scope);
  const norm = e.op('Sqrt', [total], {}, [], scope);
  e.b.op('Identity', [norm], {}, { outputs: [names.gradNorm], scope });
  e.setShape(names.gradNorm, []);
  g.outputs.push({ name: names.gradNorm, dtype: 'float32', shape: [] });
  let clipCoef: string | undefined;
  if (o.max_grad_norm > 0) {
    const coef = e.op('Div', [c(o.max_grad_norm, 'max_norm'), e.op('Add', [norm, c(1e-6, 'clip_eps')], {}, [], scope)], {}, [], scope);
    clipCoef = e.op('Min', [coef, c(1, 'one')], {}, [], scope);
  }

  // Step-wide scalars, computed once.
  const slots = stateSlots(o.optimizer, o.momentum);
  let adam: { stepSize: string; bc2Sqrt: string } | undefined;
  if (o.optimizer === 'adamw') {
    const [b1, b2] = o.betas;
    const bc1 = e.op('Sub', [c(1, 'one'), e.op('Pow', [c(b1, 'beta1'), step], {}, [], scope)], {}, [], scope);
    const bc2 = e.op('Sub', [c(1, 'one'), e.op('Pow', [c(b2, 'beta2'), step], {}, [], scope)], {}, [], scope);
    adam = { stepSize: e.op('Div', [lr, bc1], {}, [], scope), bc2Sqrt: e.op('Sqrt', [bc2], {}, [], scope) };
  }
  const decayFactor = o.optimizer === 'adamw' && o.weight_decay > 0
    ? e.op('Sub', [c(1, 'one'), e.op('Mul', [lr, c(o.weight_decay, 'wd')], {}, [], scope)], {}, [], scope)
    : undefined;

  const paramOutputs = new Map<string, string>();
  const states = new Map<string, OptimizerState>();
  for (const p of params) {
    const s = `${scope}/${p.name}`;
    const d = p.dims;
    const op = (type: string, ins: string[]) => e.op(type, ins, {}, d, s);
    let grad = gradOf(grads, p.name);
    if (clipCoef) grad = op('Mul', [grad, clipCoef]);
    const stIn = slots.map((slot) => `${p.name}.${slot}`);
    for (const n of stIn) g.inputs.push({ name: n, dtype: 'float32', shape: d });
    const stOut: string[] = [];
    let updated: string;
    if (o.optimizer === 'adamw') {
      const [b1, b2] = o.betas;
      const param = decayFactor ? op('Mul', [p.name, decayFactor]) : p.name;
      const m = op('Add', [op('Mul', [stIn[0], c(b1, 'beta1')]), op('Mul', [grad, c(1 - b1, 'one_minus_beta1')])]);
      const v = op('Add', [op('Mul', [stIn[1], c(b2, 'beta2')]), op('Mul', [op('Mul', [grad, grad]), c(1 - b2, 'one_minus_beta2')])]);
      const denom = op('Add', [op('Div', [op('Sqrt', [v]), adam!.bc2Sqrt]), c(o.eps, 'eps')]);
      updated = op('Sub', [param, op('Mul', [op('Div', [m, denom]), adam!.stepSize])]);
      stOut.push(m, v);
    } else {
      if (o.weight_decay > 0) grad = op('Add', [grad, op('Mul', [p.name, c(o.weight_decay, 'wd')])]);
      let direction = grad;
      if (o.momentum > 0) {
        direction = op('Add', [op('Mul', [stIn[0], c(o.momentum, 'momentum')]), grad]);
        stOut.push(direction);
      }
      updated = op('Sub', [p.name, op('Mul', [direction, lr])]);
    }
    paramOutputs.set(p.name, exposeAs(e, updated, `${p.name}.next`, d));
    states.set(p.name, { inputs: stIn, outputs: stOut.map((v, k) => exposeAs(e, v, `${stIn[k]}.next`, d)) });
  }
  return { lrInput: lr, stepInput: step, gradNormOutput: names.gradNorm, paramOutputs, states, stateSlots: slots };
}

function gradOf(grads: Map<string, string>, name: string): string {
  const gr = grads.get(name);
  if (!gr) throw new Error(`optimizer: no gradient for trainable tensor "${name}" (it does not influence the loss); remove it from modules_to_save or check the targets`);
  return gr;
}

/** Names a value as a graph output (Identity, so internal names stay free to change). */
function exposeAs(e: Emitter, value: string, name: string, dims: number[]): string {
  const out = e.b.fresh(name);
  e.b.op('Identity', [value], {}, { outputs: [out], scope: 'optimizer' });
  e.setShape(out, dims);
  e.b.graph.outputs.push({ name: out, dtype: 'float32', shape: dims });
  return out;
}
