// The extension's settings (package.json `contributes.configuration`), read in one place.
// Adding a setting: declare it in package.json, read it here, pass it on (see ARCHITECTURE.md).
import * as path from 'path';
import * as vscode from 'vscode';

export type Device = 'auto' | 'cpu' | 'cuda' | 'webgpu';

export interface LilySettings {
  device: Device;
  /** Undefined: let the trainer use every core. */
  threads: number | undefined;
  /** As configured (relative to the first workspace folder unless absolute). */
  runsDirectory: string;
  maxConcurrentRuns: number;
  /** Launch template for "Lily: Train on PyTorch..." (empty: none). */
  torchLaunch: string;
}

export function readSettings(): LilySettings {
  const c = vscode.workspace.getConfiguration('lily');
  const threads = c.get<number>('threads', 0);
  return {
    device: c.get<Device>('device', 'auto'),
    threads: threads && threads > 0 ? Math.floor(threads) : undefined,
    runsDirectory: c.get<string>('runsDirectory', '.lily/runs') || '.lily/runs',
    maxConcurrentRuns: Math.max(1, Math.floor(c.get<number>('maxConcurrentRuns', 1))),
    torchLaunch: c.get<string>('torch.launch', '').trim(),
  };
}

/** The first workspace folder: the working directory of the backend and of training runs. */
export function workspaceRoot(): string | undefined {
  return vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
}

/** Absolute runs directory, or undefined without a workspace folder and with a relative setting. */
export function runsDirectoryPath(settings = readSettings()): string | undefined {
  if (path.isAbsolute(settings.runsDirectory)) return settings.runsDirectory;
  const root = workspaceRoot();
  return root ? path.join(root, settings.runsDirectory) : undefined;
}
