#!/usr/bin/env node
// Installs a real VS Code server for the end-to-end tests into `.vscode-test/` (git-ignored),
// and reuses it when it is already there. Why not @vscode/test-electron: it downloads VS Code
// from Microsoft's CDN, which these machines cannot reach. The npm package `code-server` carries
// a complete VS Code server (workbench + Node extension host); version 4.139.1 (VS Code 1.139)
// needs Node 24, which the npm package `node` provides together with its headers, so the native
// modules of code-server build offline against the right ABI.
//
// Usage: node scripts/setup-vscode.mjs        (prints the JSON of the installed paths)
// As a module: `import { ensureVSCodeServer } from './setup-vscode.mjs'`.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const CODE_SERVER_VERSION = '4.139.1';
export const NODE_VERSION = '24.21.0';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cacheRoot = path.join(repoRoot, '.vscode-test');

/** Where everything lands; a stamp file marks a complete install (a half-finished one is redone). */
export function vscodePaths() {
  const nodeHome = path.join(cacheRoot, `node-${NODE_VERSION}`);
  // The `node` package installs the binary through a platform-specific package.
  const nodeDist = path.join(nodeHome, 'node_modules', 'node', 'node_modules', `node-${process.platform}-${process.arch}`);
  const codeServerHome = path.join(cacheRoot, `code-server-${CODE_SERVER_VERSION}`);
  const codeServerDir = path.join(codeServerHome, 'node_modules', 'code-server');
  return {
    cacheRoot,
    nodeHome,
    nodeDist,
    nodeBin: path.join(nodeDist, 'bin', process.platform === 'win32' ? 'node.exe' : 'node'),
    codeServerHome,
    codeServerDir,
    serverMain: path.join(codeServerDir, 'lib', 'vscode', 'out', 'server-main.js'),
    stamp: path.join(codeServerHome, '.installed'),
  };
}

function log(message) {
  process.stderr.write(`setup-vscode: ${message}\n`);
}

/** Runs a command, streaming its output to stderr; rejects with its tail on a non-zero exit. */
function run(cmd, args, options) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let tail = '';
    const keep = (chunk) => {
      tail = (tail + chunk.toString()).slice(-4000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`${cmd} ${args.join(' ')} (in ${options.cwd}) exited with ${code ?? signal}:\n${tail}`));
    });
  });
}

/**
 * The environment for a nested npm: without the parent's `npm_*` variables. Under `npm test` they
 * describe the outer npm (e.g. `npm_config_user_agent` says node/v20), and the inner npm reads
 * them as its own config: code-server's postinstall then refuses to run, thinking Node is 20.
 */
function cleanNpmEnv(extra) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k)) env[k] = v;
  return { ...env, ...extra };
}

/** A private package folder, so nothing lands in the project's own dependency tree. */
function preparePackageDir(dir, name) {
  mkdirSync(dir, { recursive: true });
  const pkg = path.join(dir, 'package.json');
  if (!existsSync(pkg)) writeFileSync(pkg, JSON.stringify({ name, private: true, version: '0.0.0' }, null, 2) + '\n');
}

async function ensureNode24(p) {
  if (existsSync(p.nodeBin) && existsSync(path.join(p.nodeDist, 'include', 'node', 'node.h'))) return;
  log(`installing Node ${NODE_VERSION} (npm package "node") into ${path.relative(repoRoot, p.nodeHome)}`);
  preparePackageDir(p.nodeHome, 'vscode-test-node');
  await run('npm', ['install', '--no-audit', '--no-fund', `node@${NODE_VERSION}`], {
    cwd: p.nodeHome,
    env: cleanNpmEnv({ npm_config_yes: 'true' }),
  });
  if (!existsSync(p.nodeBin)) {
    throw new Error(`setup-vscode: npm installed node@${NODE_VERSION} but ${p.nodeBin} is missing; delete ${p.nodeHome} and retry`);
  }
}

async function installCodeServer(p) {
  log(`installing code-server@${CODE_SERVER_VERSION} into ${path.relative(repoRoot, p.codeServerHome)} (~2.5 min, ~620 MB)`);
  preparePackageDir(p.codeServerHome, 'vscode-test-code-server');
  const env = cleanNpmEnv({
    // Node 24 first on PATH: code-server's install scripts check the version and node-gyp
    // builds native modules for the Node that runs them.
    PATH: `${path.dirname(p.nodeBin)}${path.delimiter}${process.env.PATH ?? ''}`,
    // Headers from the `node` package; without this node-gyp downloads them (fails offline), or a
    // user-level `nodedir` silently builds against the system Node's headers (wrong ABI).
    npm_config_nodedir: p.nodeDist,
    npm_config_yes: 'true',
    npm_config_unsafe_perm: 'true',
  });
  // `npm` resolves through the PATH above, so its `#!/usr/bin/env node` runs on Node 24 too.
  await run('npm', ['install', '--no-audit', '--no-fund', `code-server@${CODE_SERVER_VERSION}`], { cwd: p.codeServerHome, env });
  if (!existsSync(p.serverMain)) {
    throw new Error(`setup-vscode: code-server installed but ${p.serverMain} is missing; delete ${p.codeServerHome} and retry`);
  }
}

/** Installs Node 24 and the VS Code server when missing; returns their paths. Idempotent. */
export async function ensureVSCodeServer() {
  const p = vscodePaths();
  if (existsSync(p.stamp) && existsSync(p.serverMain) && existsSync(p.nodeBin)) return p;
  const started = Date.now();
  await ensureNode24(p);
  if (existsSync(p.codeServerHome) && !existsSync(p.stamp)) {
    log('removing an incomplete previous install');
    rmSync(p.codeServerHome, { recursive: true, force: true });
  }
  await installCodeServer(p);
  const product = JSON.parse(readFileSync(path.join(p.codeServerDir, 'lib', 'vscode', 'product.json'), 'utf8'));
  writeFileSync(p.stamp, JSON.stringify({ codeServer: CODE_SERVER_VERSION, node: NODE_VERSION, vscode: product.version ?? null }) + '\n');
  log(`done in ${Math.round((Date.now() - started) / 1000)} s`);
  return p;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  ensureVSCodeServer().then(
    (p) => process.stdout.write(JSON.stringify(p, null, 2) + '\n'),
    (err) => {
      process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
