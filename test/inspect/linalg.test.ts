import { strict as assert } from 'assert';
import { cosineSimilarity, lowRankProductSingularValues, mat, Mat, rankMeasures } from '../../native-runtime/inspect/linalg';
import { runTorch } from '../helpers/torch';
import { mulberry32 } from '../../native-runtime/adapters/init';

function seeded(seed: number): () => number {
  const u = mulberry32(seed);
  return () => u() - 0.5;
}

function randMat(rows: number, cols: number, rnd: () => number): Mat {
  return mat(rows, cols, Array.from({ length: rows * cols }, rnd));
}

const toRows = (m: Mat) => Array.from({ length: m.rows }, (_, i) => Array.from(m.data.subarray(i * m.cols, (i + 1) * m.cols)));

describe('inspect/linalg: singular values of scale·A·B against torch on the explicit d×d matrix', () => {
  const rnd = seeded(7);
  const cases: Array<{ name: string; a: Mat; b: Mat; scale: number }> = [];
  cases.push({ name: 'full rank 24x6 · 6x20', a: randMat(24, 6, rnd), b: randMat(6, 20, rnd), scale: 0.5 });
  // Rank-deficient A: two columns equal, one zero -> rank 4 of 6.
  const a2 = randMat(30, 6, rnd);
  for (let i = 0; i < 30; i++) { a2.data[i * 6 + 5] = a2.data[i * 6 + 0]; a2.data[i * 6 + 4] = 0; }
  cases.push({ name: 'rank-deficient A (rank 4)', a: a2, b: randMat(6, 25, rnd), scale: 2 });
  // Rank-deficient B: two zero rows (as B starts at init) -> rank 3 of 5.
  const b3 = randMat(5, 16, rnd);
  for (let j = 0; j < 16; j++) { b3.data[3 * 16 + j] = 0; b3.data[4 * 16 + j] = 0; }
  cases.push({ name: 'rank-deficient B (rank 3)', a: randMat(16, 5, rnd), b: b3, scale: 1 });
  cases.push({ name: 'r larger than d_out (explicit fallback)', a: randMat(12, 8, rnd), b: randMat(8, 6, rnd), scale: 1 });
  cases.push({ name: 'all-zero B (initialisation)', a: randMat(10, 4, rnd), b: mat(4, 9), scale: 1 });

  let oracle: Array<{ sv: number[]; rank: number }> = [];
  before(() => { oracle = runTorch<Array<{ sv: number[]; rank: number }>>(
    `out = []
for c in inp:
    a = torch.tensor(c['a'], dtype=torch.float64); b = torch.tensor(c['b'], dtype=torch.float64)
    w = c['scale'] * a @ b
    sv = torch.linalg.svdvals(w)
    m, n = w.shape
    tol = max(m, n) * 1.1920929e-7 * (sv.max().item() if sv.numel() else 0.0)
    out.append({'sv': sv.tolist(), 'rank': int((sv > tol).sum().item()) if sv.max() > 0 else 0})`,
    cases.map((c) => ({ a: toRows(c.a), b: toRows(c.b), scale: c.scale }))); });

  cases.forEach((c, k) => {
    it(c.name, () => {
      const sv = lowRankProductSingularValues(c.a, c.b, c.scale);
      const ref = oracle[k].sv;
      const smax = Math.max(ref[0], 1e-300);
      for (let i = 0; i < sv.length; i++) assert.ok(Math.abs(sv[i] - ref[i]) <= 1e-9 * smax + 1e-12, `σ${i}: ${sv[i]} vs ${ref[i]}`);
      // Values beyond r in the explicit matrix are zero.
      for (let i = sv.length; i < ref.length; i++) assert.ok(ref[i] <= 1e-9 * smax + 1e-12);
      assert.equal(rankMeasures(sv, { m: c.a.rows, n: c.b.cols }).numerical_rank, oracle[k].rank);
    });
  });

  it('rank measures: effective and stable rank of known spectra', () => {
    const flat = rankMeasures([2, 2, 2, 2], { m: 8, n: 8 });
    assert.ok(Math.abs(flat.effective_rank - 4) < 1e-12);
    assert.ok(Math.abs(flat.stable_rank - 4) < 1e-12);
    const one = rankMeasures([3, 0, 0], { m: 8, n: 8 });
    assert.equal(one.numerical_rank, 1);
    assert.ok(Math.abs(one.effective_rank - 1) < 1e-12);
    const mixed = rankMeasures([3, 1], { m: 8, n: 8 });
    const p = [0.75, 0.25];
    assert.ok(Math.abs(mixed.effective_rank - Math.exp(-(p[0] * Math.log(p[0]) + p[1] * Math.log(p[1])))) < 1e-12);
    assert.ok(Math.abs(mixed.stable_rank - 10 / 9) < 1e-12);
  });

  it('cosine similarity: identical experts give 1, orthogonal 0', () => {
    const s = cosineSimilarity([[1, 0, 0], [2, 0, 0], [0, 3, 0]]);
    assert.ok(Math.abs(s[0][1] - 1) < 1e-12);
    assert.ok(Math.abs(s[0][2]) < 1e-12);
    assert.equal(s[2][2], 1);
  });
});
