// Which Python `lily import` (and other Python steps) run: the `lily.pythonPath` setting, else
// the interpreter selected in the Python extension (through its public API, when installed),
// else `python3` from PATH. The extension never imports Python; it only spawns it.
import * as vscode from 'vscode';

/** The part of the Python extension's public API used here (ms-python.python `exports.environments`). */
interface PythonEnvironmentsApi {
  environments?: {
    getActiveEnvironmentPath(resource?: vscode.Uri): { path: string };
    resolveEnvironment(env: { path: string } | string): Promise<{ executable: { uri?: vscode.Uri } } | undefined>;
  };
}

export interface PythonChoice {
  python: string;
  /** Where it came from, for the log. */
  source: 'lily.pythonPath' | 'Python extension' | 'default';
}

export async function resolvePython(resource?: vscode.Uri): Promise<PythonChoice> {
  const configured = vscode.workspace.getConfiguration('lily', resource).get<string>('pythonPath', '').trim();
  if (configured) return { python: configured, source: 'lily.pythonPath' };
  const ext = vscode.extensions.getExtension<PythonEnvironmentsApi>('ms-python.python');
  if (ext) {
    try {
      const api = ext.isActive ? ext.exports : await ext.activate();
      const envs = api?.environments;
      if (envs) {
        const active = envs.getActiveEnvironmentPath(resource);
        const resolved = await envs.resolveEnvironment(active);
        const exe = resolved?.executable.uri?.fsPath;
        if (exe) return { python: exe, source: 'Python extension' };
      }
    } catch {
      // An older or failing Python extension: fall back to python3 rather than fail the import.
    }
  }
  return { python: process.platform === 'win32' ? 'python' : 'python3', source: 'default' };
}
