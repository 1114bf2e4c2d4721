// Copies the Python that ships (native-runtime/torch/**/*.py: the exporter `lily import` runs)
// beside the compiled backend in out/, since the VSIX carries out/ and no native-runtime/ sources.
import * as fs from 'fs';
import * as path from 'path';
import { fileURLToPath } from 'url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const from = path.join(root, 'native-runtime', 'torch');
const to = path.join(root, 'out', 'native-runtime', 'torch');
let copied = 0;
function copy(dir) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const src = path.join(dir, e.name);
    if (e.isDirectory()) { if (e.name !== '__pycache__') copy(src); continue; }
    if (!e.name.endsWith('.py') && e.name !== 'requirements.txt') continue;
    const dst = path.join(to, path.relative(from, src));
    fs.mkdirSync(path.dirname(dst), { recursive: true });
    fs.copyFileSync(src, dst);
    copied++;
  }
}
if (fs.existsSync(from)) copy(from);
console.log(`python: ${copied} file(s) -> ${path.relative(root, to)}`);
