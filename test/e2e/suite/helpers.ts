// Shared helpers for the extension tests that run inside the real extension host.
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';

/** The repository root (this file is compiled to out/test/e2e/suite/). */
export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..', '..');

export interface ContributedCommand { command: string; title: string; category?: string }

/** The extension's own package.json, read from disk (the manifest VS Code loaded). */
export function manifest(): { name: string; publisher: string; contributes?: { commands?: ContributedCommand[] } } {
  return JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8'));
}

export const EXTENSION_ID = `${manifest().publisher}.${manifest().name}`;

/** The Lily extension, activated; fails with the activation error when activation throws. */
export async function activatedExtension(): Promise<vscode.Extension<unknown>> {
  const ext = vscode.extensions.getExtension(EXTENSION_ID);
  if (!ext) {
    const loaded = vscode.extensions.all.filter((e) => !e.id.startsWith('vscode.')).map((e) => e.id);
    throw new Error(`extension ${EXTENSION_ID} is not loaded (development path ${REPO_ROOT}); non-builtin extensions loaded: ${loaded.join(', ') || 'none'}`);
  }
  await ext.activate();
  return ext;
}

/** The first workspace folder: a throwaway copy of examples/ made by the harness. */
export function workspaceRoot(): string {
  const folder = vscode.workspace.workspaceFolders?.[0];
  if (!folder) throw new Error('no workspace folder is open: the harness opens a throwaway copy of examples/ as the workspace');
  return folder.uri.fsPath;
}

/** Polls `probe` until it returns a value other than undefined, or fails naming what was awaited. */
export async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 30_000, intervalMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}${why}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
