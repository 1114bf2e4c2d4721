// Starts the VS Code server bundled in code-server directly (code-server's own wrapper drops the
// test payload on 4.139), on a free loopback port, with throwaway data directories and XDG_*
// variables pointing into them so nothing is written to the user's home.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { freePort, spawnTracked, withTimeout } from './processes.mjs';

/**
 * User settings of the throwaway profile. Workspace trust is an application setting (a
 * workspace's own settings cannot grant it): without it the workspace opens in restricted mode
 * and training is refused. The rest removes start-up work and distractions from screenshots.
 */
const USER_SETTINGS = {
  'security.workspace.trust.enabled': false,
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.welcomePage.walkthroughs.openOnInstall': false,
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'extensions.ignoreRecommendations': true,
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'chat.disableAIFeatures': true,
  'git.enabled': false,
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
};

/**
 * Settings for a server whose windows open their folder in restricted mode: trust is on, never
 * asked for (no modal dialog), and never granted, so the workspace stays untrusted.
 */
export const RESTRICTED_MODE_SETTINGS = {
  'security.workspace.trust.enabled': true,
  'security.workspace.trust.startupPrompt': 'never',
  'security.workspace.trust.banner': 'never',
  'security.workspace.trust.emptyWindow': false,
};

function writeUserSettings(userDataDir, overrides) {
  const dir = path.join(userDataDir, 'User');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'settings.json'), JSON.stringify({ ...USER_SETTINGS, ...overrides }, null, 2) + '\n');
}

/**
 * @param {{ nodeBin: string, serverMain: string }} vscode paths from scripts/setup-vscode.mjs
 * @param {string} tmpRoot a throwaway directory
 * @param {Record<string,string>} extraEnv inherited by the extension host (and so by the tests)
 * @param {(line: string) => void} onLine every line the server prints
 * @param {Record<string, unknown>} [userSettings] merged over USER_SETTINGS (e.g. RESTRICTED_MODE_SETTINGS)
 */
export async function startServer(vscode, tmpRoot, extraEnv, onLine, userSettings = {}) {
  const dirs = {
    serverData: path.join(tmpRoot, 'server-data'),
    userData: path.join(tmpRoot, 'user-data'),
    extensions: path.join(tmpRoot, 'extensions'),
    xdg: path.join(tmpRoot, 'xdg'),
    home: path.join(tmpRoot, 'home'),
  };
  const xdg = {
    XDG_CONFIG_HOME: path.join(dirs.xdg, 'config'),
    XDG_DATA_HOME: path.join(dirs.xdg, 'data'),
    XDG_CACHE_HOME: path.join(dirs.xdg, 'cache'),
    XDG_STATE_HOME: path.join(dirs.xdg, 'state'),
    // Must exist with mode 0700: the server creates IPC sockets there.
    XDG_RUNTIME_DIR: path.join(dirs.xdg, 'runtime'),
  };
  for (const dir of [...Object.values(dirs), ...Object.values(xdg)]) mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeUserSettings(dirs.userData, userSettings);
  const port = await freePort();
  const env = {
    ...process.env,
    ...xdg,
    // The extension host's `os.homedir()`: keeps ~/.lily, ~/.cache etc. inside the throwaway dir.
    HOME: dirs.home,
    VSCODE_AGENT_FOLDER: path.join(tmpRoot, 'agent'),
    ...extraEnv,
  };
  const args = [
    vscode.serverMain,
    '--host', '127.0.0.1',
    '--port', String(port),
    '--without-connection-token',
    '--accept-server-license-terms',
    '--enable-smoke-test-driver',
    '--server-data-dir', dirs.serverData,
    '--user-data-dir', dirs.userData,
    '--extensions-dir', dirs.extensions,
  ];
  const child = spawnTracked(vscode.nodeBin, args, { env, cwd: tmpRoot });
  let exited = null;
  const exitPromise = new Promise((resolve) => child.on('exit', (code, signal) => {
    exited = code ?? signal;
    resolve(exited);
  }));
  const listening = new Promise((resolve, reject) => {
    let buffered = '';
    const feed = (chunk) => {
      buffered += chunk.toString();
      let nl;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl).replace(/\r$/, '');
        buffered = buffered.slice(nl + 1);
        if (/Extension host agent listening on/.test(line)) resolve();
        onLine(line);
      }
    };
    child.stdout.on('data', feed);
    child.stderr.on('data', feed);
    child.on('error', reject);
    exitPromise.then((code) => reject(new Error(`the VS Code server exited with ${code} before listening (see its output above)`)));
  });
  await withTimeout(listening, 60_000, 'starting the VS Code server');
  return {
    port,
    origin: `http://127.0.0.1:${port}`,
    dirs,
    child,
    exited: () => exited,
    exitPromise,
    /** A `vscode-remote://` URI for an absolute path on this machine, as the payload needs. */
    remoteUri: (absPath) => `vscode-remote://127.0.0.1:${port}${absPath}`,
  };
}
