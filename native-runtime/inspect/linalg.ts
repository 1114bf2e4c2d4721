// Small dense linear algebra in float64 for inspecting adapters: Householder QR (the R factor)
// and singular values by one-sided Jacobi. Sizes here are the adapter rank r (<= a few hundred)
// times a model dimension, so plain loops are fast enough and no native library is needed.

/** Row-major dense matrix. */
export interface Mat {
  rows: number;
  cols: number;
  data: Float64Array;
}

export function mat(rows: number, cols: number, data?: ArrayLike<number>): Mat {
  const m = { rows, cols, data: new Float64Array(rows * cols) };
  if (data) {
    if (data.length !== rows * cols) throw new Error(`mat: ${data.length} values for ${rows}x${cols}`);
    m.data.set(data);
  }
  return m;
}

export function transpose(a: Mat): Mat {
  const t = mat(a.cols, a.rows);
  for (let i = 0; i < a.rows; i++) for (let j = 0; j < a.cols; j++) t.data[j * a.rows + i] = a.data[i * a.cols + j];
  return t;
}

export function matmul(a: Mat, b: Mat): Mat {
  if (a.cols !== b.rows) throw new Error(`matmul: ${a.rows}x${a.cols} times ${b.rows}x${b.cols}`);
  const c = mat(a.rows, b.cols);
  for (let i = 0; i < a.rows; i++) {
    for (let k = 0; k < a.cols; k++) {
      const aik = a.data[i * a.cols + k];
      if (aik === 0) continue;
      const bo = k * b.cols;
      const co = i * b.cols;
      for (let j = 0; j < b.cols; j++) c.data[co + j] += aik * b.data[bo + j];
    }
  }
  return c;
}

/**
 * The upper-triangular factor R (n x n) of the QR decomposition of a tall m x n matrix (m >= n),
 * by Householder reflections. Q is never formed: singular values of A·Bᵀ only need the R's.
 */
export function qrR(a: Mat): Mat {
  const m = a.rows;
  const n = a.cols;
  if (m < n) throw new Error(`qrR: needs rows >= cols, got ${m}x${n}`);
  const w = Float64Array.from(a.data);
  const v = new Float64Array(m);
  for (let k = 0; k < n; k++) {
    let norm = 0;
    for (let i = k; i < m; i++) norm += w[i * n + k] ** 2;
    norm = Math.sqrt(norm);
    if (norm === 0) continue;
    const alpha = w[k * n + k] > 0 ? -norm : norm;
    for (let i = k; i < m; i++) v[i] = w[i * n + k];
    v[k] -= alpha;
    let vnorm2 = 0;
    for (let i = k; i < m; i++) vnorm2 += v[i] * v[i];
    if (vnorm2 === 0) continue;
    for (let j = k; j < n; j++) {
      let dot = 0;
      for (let i = k; i < m; i++) dot += v[i] * w[i * n + j];
      const f = (2 * dot) / vnorm2;
      for (let i = k; i < m; i++) w[i * n + j] -= f * v[i];
    }
  }
  const r = mat(n, n);
  for (let i = 0; i < n; i++) for (let j = i; j < n; j++) r.data[i * n + j] = w[i * n + j];
  return r;
}

/**
 * Singular values (descending) by one-sided Jacobi rotations on the columns. Accurate for small
 * singular values too (no squaring through AᵀA), which matters for numerical-rank decisions.
 */
export function singularValues(a: Mat, maxSweeps = 60): number[] {
  // Work on the orientation with fewer columns.
  const m0 = a.rows >= a.cols ? a : transpose(a);
  const m = m0.rows;
  const n = m0.cols;
  // Column-major copy so column operations are contiguous.
  const cols: Float64Array[] = [];
  for (let j = 0; j < n; j++) {
    const c = new Float64Array(m);
    for (let i = 0; i < m; i++) c[i] = m0.data[i * n + j];
    cols.push(c);
  }
  const eps = 1e-15;
  for (let sweep = 0; sweep < maxSweeps; sweep++) {
    let rotated = false;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const cp = cols[p];
        const cq = cols[q];
        let alpha = 0, beta = 0, gamma = 0;
        for (let i = 0; i < m; i++) {
          alpha += cp[i] * cp[i];
          beta += cq[i] * cq[i];
          gamma += cp[i] * cq[i];
        }
        if (Math.abs(gamma) <= eps * Math.sqrt(alpha * beta) || gamma === 0) continue;
        rotated = true;
        const zeta = (beta - alpha) / (2 * gamma);
        const t = Math.sign(zeta || 1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = c * t;
        for (let i = 0; i < m; i++) {
          const x = cp[i];
          const y = cq[i];
          cp[i] = c * x - s * y;
          cq[i] = s * x + c * y;
        }
      }
    }
    if (!rotated) break;
  }
  const sv = cols.map((c) => Math.sqrt(c.reduce((acc, x) => acc + x * x, 0)));
  return sv.sort((x, y) => y - x);
}

/**
 * Singular values of scale · A · B, with A m x r and B r x n, without forming the m x n product:
 * A = Qa Ra and Bᵀ = Qb Rb give A·B = Qa (Ra Rbᵀ) Qbᵀ, whose singular values are those of the
 * small r x r matrix Ra Rbᵀ. Falls back to the explicit product when r exceeds m or n.
 */
export function lowRankProductSingularValues(a: Mat, b: Mat, scale = 1): number[] {
  if (a.cols !== b.rows) throw new Error(`lowRankProductSingularValues: ${a.rows}x${a.cols} times ${b.rows}x${b.cols}`);
  let sv: number[];
  if (a.rows >= a.cols && b.cols >= b.rows) {
    const ra = qrR(a);
    const rb = qrR(transpose(b));
    sv = singularValues(matmul(ra, transpose(rb)));
  } else {
    sv = singularValues(matmul(a, b));
  }
  return sv.map((s) => Math.abs(scale) * s);
}

export interface RankMeasures {
  /** Count of singular values above tol · σ_max. */
  numerical_rank: number;
  /** exp of the Shannon entropy of σ / Σσ (Roy & Vetterli). */
  effective_rank: number;
  /** ‖ΔW‖_F² / ‖ΔW‖_2². */
  stable_rank: number;
}

/**
 * Rank measures from singular values. The default relative tolerance follows numpy's
 * matrix_rank for float32 data (max(m, n) · eps_f32), since adapter weights are float32.
 */
export function rankMeasures(sv: number[], dims: { m: number; n: number }, relTol?: number): RankMeasures {
  const smax = sv.length ? Math.max(...sv) : 0;
  if (smax === 0) return { numerical_rank: 0, effective_rank: 0, stable_rank: 0 };
  const tol = (relTol ?? Math.max(dims.m, dims.n) * 1.1920929e-7) * smax;
  const numerical_rank = sv.filter((s) => s > tol).length;
  const total = sv.reduce((a, s) => a + s, 0);
  let h = 0;
  for (const s of sv) {
    const p = s / total;
    if (p > 0) h -= p * Math.log(p);
  }
  const fro2 = sv.reduce((a, s) => a + s * s, 0);
  return { numerical_rank, effective_rank: Math.exp(h), stable_rank: fro2 / (smax * smax) };
}

/** Cosine similarity matrix between flattened vectors (e.g. the B experts of a target). */
export function cosineSimilarity(vectors: ArrayLike<number>[]): number[][] {
  const norms = vectors.map((v) => {
    let s = 0;
    for (let i = 0; i < v.length; i++) s += v[i] * v[i];
    return Math.sqrt(s);
  });
  return vectors.map((a, i) =>
    vectors.map((b, j) => {
      if (norms[i] === 0 || norms[j] === 0) return i === j ? 1 : 0;
      let dot = 0;
      for (let k = 0; k < a.length; k++) dot += a[k] * b[k];
      return dot / (norms[i] * norms[j]);
    }));
}
