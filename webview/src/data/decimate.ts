// Min/max decimation for long curves: a line with more points than pixels is drawn from the
// first, minimum, maximum and last point of each pixel-wide bucket. Peaks stay visible (unlike
// striding) and the SVG path stays a few thousand vertices long however long the run is.

/**
 * Indices of the points to draw, in x order. All of `indices` when they fit in `buckets * 2`
 * vertices; else at most four per bucket of equal x-width. `xs` must grow along `indices`.
 */
export function decimateMinMax(
  indices: readonly number[],
  xs: readonly number[],
  ys: readonly number[],
  buckets: number,
): readonly number[] {
  if (indices.length <= buckets * 2 || buckets < 1) return indices;
  const x0 = xs[indices[0]];
  const x1 = xs[indices[indices.length - 1]];
  const width = (x1 - x0) / buckets || 1;
  const bucketOf = (i: number) => Math.min(buckets - 1, Math.floor((xs[i] - x0) / width));
  const out: number[] = [];
  let k = 0;
  while (k < indices.length) {
    const bucket = bucketOf(indices[k]);
    const first = indices[k];
    let min = first;
    let max = first;
    let last = first;
    k++;
    while (k < indices.length && bucketOf(indices[k]) === bucket) {
      const i = indices[k];
      if (ys[i] < ys[min]) min = i;
      if (ys[i] > ys[max]) max = i;
      last = i;
      k++;
    }
    // Indices grow with x, so sorting them keeps x order; drop duplicates.
    const picked = [...new Set([first, min, max, last])].sort((a, b) => a - b);
    out.push(...picked);
  }
  return out;
}
