// A chart export the dashboard asks the host to save (`saveFile`): the page is untrusted content,
// so what it sends is checked before anything is written: a plain file name with the kind's
// extension, a size limit, and for PNG a base64 data URL whose bytes start with the PNG
// signature. The user picks the destination in a save dialog. No vscode import: tested in Node.
import type { SaveFileKind } from '../native-runtime/protocol';

/** 32 MiB of text or PNG: a 4K chart at 2x is a few MB; anything larger is not a chart. */
export const MAX_EXPORT_BYTES = 32 * 1024 * 1024;
const PNG_PREFIX = 'data:image/png;base64,';
const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

export type SavedExport = { ok: true; name: string; bytes: Buffer; filterName: string } | { ok: false; reason: string };

/** A file name safe on every OS: no folders, no reserved characters, the kind's extension. */
export function safeExportName(name: string, kind: SaveFileKind): string {
  const base = name.split(/[\\/]/).pop() ?? '';
  // eslint-disable-next-line no-control-regex
  let clean = base.replace(/[\u0000-\u001f<>:"|?*]+/g, '-').replace(/^[.\s]+/, '').trim().slice(0, 120);
  if (!clean) clean = 'lily-chart';
  return clean.toLowerCase().endsWith(`.${kind}`) ? clean : `${clean}.${kind}`;
}

/** The bytes to write for a saveFile message, or why not. */
export function decodeExport(kind: SaveFileKind, name: string, data: string): SavedExport {
  if (data.length > MAX_EXPORT_BYTES * 1.4) return { ok: false, reason: `the ${kind} export is larger than ${MAX_EXPORT_BYTES / 1024 / 1024} MiB` };
  const fileName = safeExportName(name, kind);
  if (kind === 'csv') return { ok: true, name: fileName, bytes: Buffer.from(data, 'utf8'), filterName: 'CSV' };
  if (!data.startsWith(PNG_PREFIX)) return { ok: false, reason: 'the png export is not a data:image/png;base64 URL' };
  const base64 = data.slice(PNG_PREFIX.length);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(base64)) return { ok: false, reason: 'the png export is not valid base64' };
  const bytes = Buffer.from(base64, 'base64');
  if (bytes.length < 33 || PNG_SIGNATURE.some((b, i) => bytes[i] !== b)) return { ok: false, reason: 'the png export does not start with the PNG signature' };
  return { ok: true, name: fileName, bytes, filterName: 'PNG image' };
}
