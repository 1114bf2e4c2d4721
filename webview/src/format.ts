// Number formatting shared by tooltips and table views, so both show the same digits.

/** Six significant digits: what tooltips and tables call the "exact" value. */
export function fmtExact(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (value === 0) return '0';
  return String(Number(value.toPrecision(6)));
}

/** Short form for labels and headers. */
export function fmtShort(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  if (abs !== 0 && (abs < 1e-3 || abs >= 1e5)) return value.toExponential(2);
  return String(Number(value.toPrecision(4)));
}

/** 1234567 -> "1,234,567". */
export function fmtCount(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

export function fmtDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '–';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m ${sec}s`;
  return `${sec}s`;
}

/**
 * The device a run uses, with the reason others were skipped: the backend's note reads
 * "using cpu (cuda: provider not installed; ...)", which repeated the device ("cpu (using cpu
 * (cuda: ...))"). -> "cpu · cuda: provider not installed; ...".
 */
export function fmtDevice(device: string, note: string | undefined): string {
  if (!note) return device;
  const m = /^using (\S+)(?: \((.*)\))?$/.exec(note.trim());
  if (m && m[1] === device) return m[2] ? `${device} · skipped ${m[2]}` : device;
  return `${device} · ${note}`;
}
