#!/usr/bin/env node
// `npm run package`: a platform-specific VSIX for this machine's platform (or --target T),
// carrying only that platform's onnxruntime-node binaries (the package holds ~290 MB for all of
// them). Builds first, packages with @vscode/vsce, then checks the result: the files it must
// hold, no other platform's binaries, no compiled file whose source is gone (scripts/staleOutputs.mjs;
// the build starts from an empty out/, --no-build packs out/ as it is), and (for this machine's
// platform) that the packaged backend starts and answers the initialize handshake from an unpacked copy.
//
//   node scripts/package-vsix.mjs [--target linux-x64] [--no-build] [--no-verify] [--out file.vsix]
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import { createRequire } from 'module';
import * as os from 'os';
import * as path from 'path';
import { fileURLToPath } from 'url';
import { staleOutputs } from './staleOutputs.mjs';

const require = createRequire(import.meta.url);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));

// VS Code's platform targets -> onnxruntime-node's bin/napi-v*/<platform>/<arch> folders.
const TARGETS = {
  'linux-x64': ['linux', 'x64'], 'linux-arm64': ['linux', 'arm64'],
  'darwin-x64': ['darwin', 'x64'], 'darwin-arm64': ['darwin', 'arm64'],
  'win32-x64': ['win32', 'x64'], 'win32-arm64': ['win32', 'arm64'],
};

function fail(message) {
  console.error(`package-vsix: ${message}`);
  process.exit(1);
}

function parseArgs(argv) {
  const opts = { target: `${process.platform}-${process.arch}`, build: true, verify: true, out: undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--target') opts.target = argv[++i];
    else if (a === '--out') opts.out = argv[++i];
    else if (a === '--no-build') opts.build = false;
    else if (a === '--no-verify') opts.verify = false;
    else fail(`unknown argument ${a}; usage: node scripts/package-vsix.mjs [--target T] [--out F] [--no-build] [--no-verify]`);
  }
  if (!TARGETS[opts.target]) fail(`no onnxruntime-node binaries for target ${opts.target}; supported: ${Object.keys(TARGETS).join(', ')}`);
  return opts;
}

function run(cmd, args) {
  console.log(`> ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { cwd: ROOT, stdio: 'inherit', shell: process.platform === 'win32' });
  if (r.status !== 0) fail(`${cmd} ${args.join(' ')} failed (exit ${r.status ?? r.signal})`);
}

/** Every onnxruntime-node binary folder, as paths relative to the package root. */
function ortBinaryFolders() {
  const bin = path.join(ROOT, 'node_modules', 'onnxruntime-node', 'bin');
  if (!fs.existsSync(bin)) fail(`${bin} is missing: run \`npm install\` first`);
  const out = [];
  for (const napi of fs.readdirSync(bin)) {
    for (const platform of fs.readdirSync(path.join(bin, napi))) {
      for (const arch of fs.readdirSync(path.join(bin, napi, platform))) {
        out.push({ rel: ['node_modules', 'onnxruntime-node', 'bin', napi, platform, arch].join('/'), platform, arch });
      }
    }
  }
  return out;
}

/** .vscodeignore plus one line per other platform's binary folder, in a temporary file. */
function ignoreFileFor(target) {
  const [platform, arch] = TARGETS[target];
  const folders = ortBinaryFolders();
  const own = folders.filter((f) => f.platform === platform && f.arch === arch);
  if (own.length === 0) fail(`onnxruntime-node here has no binaries for ${target} (has: ${folders.map((f) => `${f.platform}-${f.arch}`).join(', ')})`);
  const base = fs.readFileSync(path.join(ROOT, '.vscodeignore'), 'utf8');
  const extra = folders.filter((f) => !own.includes(f)).map((f) => `${f.rel}/**`);
  const file = path.join(os.tmpdir(), `lily-vscodeignore-${target}-${process.pid}`);
  fs.writeFileSync(file, `${base}\n# Other platforms (added by scripts/package-vsix.mjs for ${target})\n${extra.join('\n')}\n`);
  return { file, own: own.map((f) => f.rel), others: folders.filter((f) => !own.includes(f)).map((f) => f.rel) };
}

const REQUIRED = [
  'package.json', 'out/src/extension.js', 'out/native-runtime/server.js', 'out/native-runtime/cli.js', 'bin/lily.js',
  'schemas/lily.schema.json', 'out/native-runtime/torch/lily_train.py', 'out/webview/dashboard.js', 'out/webview/dashboard.css', 'media/icon.png',
  'node_modules/vscode-jsonrpc/package.json', 'node_modules/onnxruntime-node/package.json',
];

function checkEntries(vsix, ignore) {
  const AdmZip = require('adm-zip');
  const names = new AdmZip(vsix).getEntries().map((e) => e.entryName.replace(/^extension\//, ''));
  const missing = REQUIRED.filter((r) => !names.includes(r));
  if (missing.length) fail(`${vsix} lacks ${missing.join(', ')}`);
  const foreign = names.filter((n) => ignore.others.some((o) => n.startsWith(o + '/')));
  if (foreign.length) fail(`${vsix} carries other platforms' binaries, e.g. ${foreign[0]}`);
  if (!names.some((n) => ignore.own.some((o) => n.startsWith(o + '/')))) fail(`${vsix} carries no onnxruntime binaries for its platform`);
  const sources = names.filter((n) => /^(src|native-runtime|test|webview)\//.test(n) || (n.endsWith('.ts') && !n.endsWith('.d.ts')));
  if (sources.length) fail(`${vsix} carries sources it should not, e.g. ${sources.slice(0, 3).join(', ')}`);
  const stale = staleOutputs(ROOT, names);
  if (stale.length) fail(`${vsix} carries compiled files whose sources are gone, e.g. ${stale.slice(0, 3).join(', ')}: run \`npm run build\` (it starts from an empty out/) and package again`);
  return names.length;
}

/** Unpacks the VSIX and runs its backend: initialize must answer, with the cpu provider. */
async function checkBackendStarts(vsix) {
  const AdmZip = require('adm-zip');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lily-vsix-'));
  try {
    new AdmZip(vsix).extractAllTo(dir, true);
    const ext = path.join(dir, 'extension');
    const rpc = require('vscode-jsonrpc/node');
    const child = spawn(process.execPath, [path.join(ext, 'out', 'native-runtime', 'server.js')], { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => { stderr += d; });
    const conn = rpc.createMessageConnection(new rpc.StreamMessageReader(child.stdout), new rpc.StreamMessageWriter(child.stdin));
    conn.listen();
    let exitCode;
    const exited = new Promise((resolve) => child.once('exit', (code, signal) => { exitCode = code ?? signal; resolve(); }));
    let timer;
    const within = (ms, what, p) => Promise.race([
      p,
      exited.then(() => { throw new Error(`the packaged backend exited (${exitCode}) during ${what}:\n${stderr}`); }),
      new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`the packaged backend did not answer ${what} within ${ms / 1000} s:\n${stderr}`)), ms); }),
    ]).finally(() => clearTimeout(timer));
    try {
      const info = await within(20000, 'initialize', conn.sendRequest('lily/initialize', { clientName: 'package-vsix', protocolVersion: 1 }));
      if (!info.providers.includes('cpu')) throw new Error(`the packaged backend reports no cpu provider: ${JSON.stringify(info)}`);
      // A model request exercises the ONNX reader; a missing file must come back as a clear error.
      const missing = path.join(dir, 'missing.onnx');
      const err = await within(20000, 'listTargets', conn.sendRequest('lily/listTargets', { modelPath: missing }).then(() => undefined, (e) => e));
      if (!err || !/model file not found/.test(err.message)) throw new Error(`listTargets on a missing model should fail with "model file not found", got: ${err ? err.message : 'success'}`);
      // Shutdown: the backend answers, then exits by itself.
      await within(10000, 'shutdown', conn.sendRequest('lily/shutdown', {}));
      child.stdin.end();
      await Promise.race([exited, new Promise((r) => { timer = setTimeout(r, 5000); })]).finally(() => clearTimeout(timer));
      if (exitCode !== 0) throw new Error(`the packaged backend did not exit cleanly after shutdown (${exitCode})`);
      console.log(`verified: the packaged backend ${info.version} starts, answers and shuts down (providers: ${info.providers.join(', ')})`);
    } finally {
      conn.dispose();
      if (child.exitCode === null) child.kill();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const opts = parseArgs(process.argv.slice(2));
if (opts.build) run('npm', ['run', 'build']);
const missingBuild = REQUIRED.filter((r) => !fs.existsSync(path.join(ROOT, r)));
if (missingBuild.length) fail(`missing before packaging: ${missingBuild.join(', ')}; run \`npm run build\``);

const ignore = ignoreFileFor(opts.target);
const out = opts.out ?? path.join(ROOT, 'dist', `${pkg.name}-${opts.target}-${pkg.version}.vsix`);
fs.mkdirSync(path.dirname(out), { recursive: true });
const vsceArgs = [require.resolve('@vscode/vsce/vsce'), 'package', '--target', opts.target, '--ignoreFile', ignore.file, '--out', out];
if (!fs.existsSync(path.join(ROOT, 'LICENSE')) && !fs.existsSync(path.join(ROOT, 'LICENSE.md'))) vsceArgs.push('--skip-license');
// Without a repository URL vsce cannot make README's relative links absolute; keep them as written.
if (!pkg.repository) vsceArgs.push('--allow-missing-repository', '--no-rewrite-relative-links');
try {
  run(process.execPath, vsceArgs);
} finally {
  fs.rmSync(ignore.file, { force: true });
}
const count = checkEntries(out, ignore);
const mb = (fs.statSync(out).size / 1024 / 1024).toFixed(1);
console.log(`${path.relative(ROOT, out)}: ${mb} MB, ${count} files, onnxruntime binaries for ${opts.target} only`);
if (opts.verify && opts.target === `${process.platform}-${process.arch}`) {
  await checkBackendStarts(out).catch((e) => fail(e.message));
}
