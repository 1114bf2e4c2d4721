// Training FLOPs of one step of the benchmark's encoder classifier (scripts/oracle/models.py,
// BERT-like) with a Lily or LoRA adapter on some of query/key/value, counted analytically, so
// that ours and PyTorch are measured against the same yardstick and the FLOP rate can be set
// against the machine's MatMul rate.
//
// What counts: every matrix product, 2·m·k·n FLOPs (a multiply and an add per term). Softmax,
// LayerNorm, GELU, residual adds, the loss and the optimizer are elementwise work, left out
// (it is memory-bound, and leaving it out makes the fraction of the MatMul rate conservative).
// The backward pass of Y = X·W costs one forward-equivalent per operand whose gradient is
// needed: dX = dY·Wᵀ when X depends on a trainable tensor, dW = Xᵀ·dY when W is trainable.
// Frozen weights therefore cost 1× forward in backward (input gradient only), trainable ones
// (adapter tensors, the classifier) 2×, activation×activation products (Q·Kᵀ, P·V) up to 2×.
// Nothing below the first adapted layer needs a gradient: in block 0 the projections' inputs
// (the embeddings) get none, Kᵀ gets none unless `key` is adapted, and so on.

const ATTENTION_TARGETS = ['query', 'key', 'value'];

/**
 * @param {{hidden: number, ff: number, layers: number, num_labels: number}} model
 * @param {{batch: number, seq: number}} shape
 * @param {{method: 'lily'|'lora', target_modules: string[], r: number, num_B?: number}} adapter
 * @returns {{forward: number, backward: number, total: number}}
 */
export function trainingFlops(model, shape, adapter) {
  for (const t of adapter.target_modules) {
    if (!ATTENTION_TARGETS.includes(t)) throw new Error(`bench flops: target "${t}" is not counted; the count knows ${ATTENTION_TARGETS.join(', ')}`);
  }
  const d = model.hidden, ff = model.ff, L = model.layers, s = shape.seq, b = shape.batch;
  const T = b * s;
  const adapted = new Set(adapter.target_modules);
  let fwd = 0, bwd = 0;
  /** One product [m,k]x[k,n]; gradients of the left/right operand counted when needed. */
  const mm = (m, k, n, gradLeft, gradRight) => {
    const f = 2 * m * k * n;
    fwd += f;
    bwd += (gradLeft ? f : 0) + (gradRight ? f : 0);
  };
  const adapterDelta = (inputNeedsGrad) => {
    const r = adapter.r;
    if (adapter.method === 'lily') {
      const nB = adapter.num_B;
      mm(T, d, r, inputNeedsGrad, true);   // h = x A
      mm(T, r, nB, true, true);            // router logits = h R
      mm(1, nB, r * d, true, true);        // B_mix = p · B (flattened)
      mm(T, r, d, true, true);             // delta = h B_mix
    } else {
      mm(T, d, r, inputNeedsGrad, true);   // h = x A
      mm(T, r, d, true, true);             // delta = h B
    }
  };
  for (let l = 0; l < L; l++) {
    const xGrad = l > 0; // the block's input depends on a trainable tensor (an earlier block's adapter)
    const qGrad = xGrad || adapted.has('query');
    const kGrad = xGrad || adapted.has('key');
    const vGrad = xGrad || adapted.has('value');
    for (const t of ATTENTION_TARGETS) {
      mm(T, d, d, xGrad, false);
      if (adapted.has(t)) adapterDelta(xGrad);
    }
    mm(T, s, d, qGrad, kGrad);                 // scores = Q Kᵀ (all heads: b·heads·s·s·d_head)
    mm(T, s, d, qGrad || kGrad, vGrad);        // context = P V
    const attnGrad = qGrad || kGrad || vGrad;
    mm(T, d, d, attnGrad, false);              // attention.output.dense
    mm(T, d, ff, attnGrad, false);             // intermediate.dense
    mm(T, ff, d, attnGrad, false);             // output.dense
  }
  mm(b, d, d, true, false);                    // pooler on [CLS]
  mm(b, d, model.num_labels, true, true);      // classifier (trained: modules_to_save)
  return { forward: fwd, backward: bwd, total: fwd + bwd };
}
