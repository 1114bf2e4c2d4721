// Which files of a VSIX under out/ have no source any more: compiled files of sources that were
// moved or deleted since out/ was last built from clean (`npm run package --no-build` packs out/
// as it finds it). Each file under out/ comes from the same path without out/ (`.js` from `.ts`:
// tsc, incl. the schema JSON it copies; `.py` and requirements.txt: scripts/copy-python.mjs),
// except the dashboard bundle (scripts/build-webview.mjs), whose names are listed here.
import * as fs from 'fs';
import * as path from 'path';

const BUNDLE = new Set(['out/webview/dashboard.js', 'out/webview/dashboard.css', 'out/webview/dashboard.js.LEGAL.txt', 'out/webview/index.html']);

/** The entries of `names` (package-relative paths) under out/ whose source is missing in `root`. */
export function staleOutputs(root, names) {
  return names.filter((n) => n.startsWith('out/') && !BUNDLE.has(n)).filter((n) => {
    const rel = n.slice('out/'.length);
    const source = rel.replace(/\.js(\.map)?$/, '.ts');
    return !fs.existsSync(path.join(root, source));
  });
}
