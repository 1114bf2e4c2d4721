// Where the backend finds its own files. The server runs either compiled
// (out/native-runtime/server.js) or from source under tsx (native-runtime/server.ts), so the
// package root is found by walking up to this project's package.json, not by a fixed `..`.
import * as fs from 'fs';
import * as path from 'path';

const PACKAGE_NAME = 'lily-vscode';

export function findPackageRoot(start: string = __dirname): string {
  let dir = path.resolve(start);
  for (;;) {
    const pj = path.join(dir, 'package.json');
    if (fs.existsSync(pj)) {
      try {
        if (JSON.parse(fs.readFileSync(pj, 'utf8')).name === PACKAGE_NAME) return dir;
      } catch {
        // An unreadable package.json belongs to something else; keep walking up.
      }
    }
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`cannot find the ${PACKAGE_NAME} package root above ${start}: is the extension installed completely?`);
    dir = up;
  }
}

export function packageVersion(root = findPackageRoot()): string {
  return JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).version as string;
}

/** The `lily` CLI entry (bin/lily.js), which loads the compiled backend from out/. */
export function lilyCliPath(root = findPackageRoot()): string {
  const cli = path.join(root, 'bin', 'lily.js');
  const compiled = path.join(root, 'out', 'native-runtime', 'cli.js');
  if (!fs.existsSync(compiled)) {
    throw new Error(`the Lily CLI is not built (${compiled} is missing): run \`npm run build\` in ${root}`);
  }
  return cli;
}

/** Environment for child Node processes: inside VS Code, process.execPath is Electron. */
export function nodeChildEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...process.env, ELECTRON_RUN_AS_NODE: '1', ...extra };
}
