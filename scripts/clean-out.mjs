// The first step of `npm run build`: removes out/, so the build starts from a clean output.
// tsc, the webview bundle and the Python copy only ever add or overwrite files; the compiled
// file of a source that was moved or deleted would stay in out/, load for whoever requires its
// old path, and ship in the VSIX (scripts/package-vsix.mjs packs out/ as it finds it). tsc here
// is not incremental (no .tsbuildinfo), so starting empty costs the build nothing but the removal.
// Whatever else writes into out/ is remade on demand: the dashboard's fixture.js
// (test/webview/make-fixture.ts; the webview tests write their own).
import * as fs from 'fs';
import * as path from 'path';
import { fileURLToPath } from 'url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
fs.rmSync(path.join(root, 'out'), { recursive: true, force: true });
