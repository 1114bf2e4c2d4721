// `npm run build` starts from an empty out/ (scripts/clean-out.mjs), so compiled files of moved or
// deleted sources cannot stay there and ship; `npm run package` also refuses a VSIX that carries
// such a file (scripts/staleOutputs.mjs), for packages made with --no-build from an older out/.
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { pathToFileURL } from 'url';

const ROOT = path.join(__dirname, '..', '..');

function write(root: string, rel: string, text = ''): void {
  fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
  fs.writeFileSync(path.join(root, rel), text);
}

describe('a clean build output', () => {
  let tmp: string;
  beforeEach(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lily-clean-build-')); });
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it("npm run build's first step is scripts/clean-out.mjs, which empties the project's out/ and nothing else", () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    const steps = pkg.scripts.build.split('&&').map((s) => s.trim());
    assert.equal(steps[0], 'node scripts/clean-out.mjs', `package.json scripts.build ("${pkg.scripts.build}") must start by emptying out/`);

    // The script itself, run from a throwaway project: it finds out/ beside its own scripts/.
    write(tmp, 'scripts/clean-out.mjs', fs.readFileSync(path.join(ROOT, 'scripts', 'clean-out.mjs'), 'utf8'));
    write(tmp, 'out/native-runtime/cli/packedExports.js', '// compiled from a source that moved');
    write(tmp, 'native-runtime/config/packedExports.ts', 'export {};');
    const r = spawnSync(process.execPath, [path.join(tmp, 'scripts', 'clean-out.mjs')], { cwd: os.tmpdir(), encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(!fs.existsSync(path.join(tmp, 'out')), 'out/ was not removed');
    assert.ok(fs.existsSync(path.join(tmp, 'native-runtime', 'config', 'packedExports.ts')), 'a source was removed');
    // No out/ at all (a fresh checkout) is fine too.
    assert.equal(spawnSync(process.execPath, [path.join(tmp, 'scripts', 'clean-out.mjs')]).status, 0);
  });

  it('staleOutputs names the packaged out/ files whose source is gone, and only those', async () => {
    const { staleOutputs } = await import(pathToFileURL(path.join(ROOT, 'scripts', 'staleOutputs.mjs')).href) as { staleOutputs: (root: string, names: string[]) => string[] };
    for (const rel of ['native-runtime/config/packedExports.ts', 'src/extension.ts', 'schemas/lily.schema.json', 'native-runtime/torch/lily_train.py']) write(tmp, rel);
    const names = [
      'package.json', 'bin/lily.js',
      'out/native-runtime/config/packedExports.js', 'out/src/extension.js', 'out/src/extension.js.map',
      'out/schemas/lily.schema.json', 'out/native-runtime/torch/lily_train.py',
      'out/webview/dashboard.js', 'out/webview/dashboard.css', 'out/webview/dashboard.js.LEGAL.txt',
      'out/native-runtime/cli/packedExports.js', 'out/native-runtime/torch/old_exporter.py', 'out/src/removed.js.map',
    ];
    assert.deepEqual(staleOutputs(tmp, names), ['out/native-runtime/cli/packedExports.js', 'out/native-runtime/torch/old_exporter.py', 'out/src/removed.js.map']);
  });
});
