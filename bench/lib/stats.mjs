// Small statistics for timings.

export function median(xs) {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Median absolute deviation relative to the median: a robust spread. */
export function relativeSpread(xs) {
  const m = median(xs);
  return median(xs.map((x) => Math.abs(x - m))) / m;
}
