// Shared helpers for the extension tests that run inside the real extension host.
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { RUN_FILES, type RunState, type RunStatus } from '../../../native-runtime/runFiles';
import type { LilyExtensionApi } from '../../../src/extension';

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
      if (err instanceof FatalWait) throw err;
      lastError = err;
    }
    if (Date.now() > deadline) {
      const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}${why}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * Awaits `command` (a command that asks with quick picks) while answering every pick it opens in
 * the workbench as a user does: Enter on the active item (what the pick highlights, usually the
 * first), or with `item`, the arrow keys to the item at that index and Enter. The moves are VS
 * Code's own list commands (`quickInput.first`, then `quickInput.next` `item` times), the Enter
 * `workbench.action.acceptSelectedQuickOpenItem`. Answering is polled because a pick opens only
 * after the command has done its own reading (a config, a model folder); before that every step
 * is a no-op.
 *
 * One answer's commands are sent without awaiting in between: the extension host sends the
 * commands of one tick in order and the workbench runs each at once (none waits for an activation
 * event), so a pick whose items arrive between two polls is seen by the whole answer or by none of
 * it, never accepted on its first item half-way through the moves. Polling stops when the command
 * settles, or after `timeoutMs`; the command's own result or failure is returned either way.
 * Nothing here sees the pick's labels: the caller asserts what the chosen item did.
 */
export async function acceptingPicks<T>(command: Promise<T>, opts: { item?: number; timeoutMs?: number } = {}): Promise<T> {
  const moves = opts.item === undefined ? [] : ['quickInput.first', ...Array<string>(opts.item).fill('quickInput.next')];
  const answer = [...moves, 'workbench.action.acceptSelectedQuickOpenItem'];
  let settled = false;
  command.then(() => { settled = true; }, () => { settled = true; });
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  while (!settled && Date.now() < deadline) {
    await Promise.all(answer.map((id) => vscode.commands.executeCommand(id)));
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  return command;
}

/** The extension's API (what activate() returns), typed. */
export async function lilyApi(): Promise<LilyExtensionApi> {
  const ext = await activatedExtension();
  const api = ext.exports as LilyExtensionApi | undefined;
  if (!api?.model || !api.backend) throw new Error(`${EXTENSION_ID} activate() returned no API (expected { model, backend, runs, diagnostics })`);
  return api;
}

/** The bundled demo, copied into the workspace by the harness. */
export function sentimentExample(): { dir: string; config: string; model: string } {
  const dir = path.join(workspaceRoot(), 'sentiment');
  const config = path.join(dir, 'sentiment.lily.json');
  const model = path.join(dir, 'model.onnx');
  for (const f of [config, model]) {
    if (!fs.existsSync(f)) throw new Error(`${path.relative(workspaceRoot(), f)} is missing from the e2e workspace: the harness copies examples/sentiment/ (the bundled demo) there; is it in the repository?`);
  }
  return { dir, config, model };
}

/** What every Lily command returns (src/results.ts). */
export type CommandResult<T extends object = object> = ({ ok: true } & T) | { ok: false; reason: string };

/** Runs a Lily command and fails with its refusal reason unless it succeeded. */
export async function runCommand<T extends object>(id: string, ...args: unknown[]): Promise<T> {
  const r = await vscode.commands.executeCommand<CommandResult<T> | undefined>(id, ...args);
  if (!r) throw new Error(`${id} returned nothing (every Lily command returns { ok, ... })`);
  if (!r.ok) throw new Error(`${id} refused: ${r.reason}`);
  return r;
}

/** A run's status.json, or undefined while it is missing or being replaced. */
export function readStatus(runDir: string): RunStatus | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(runDir, RUN_FILES.status), 'utf8')) as RunStatus;
  } catch {
    return undefined;
  }
}

/** Waits until status.json reaches one of `states`; a run that fails instead fails the test with its error. */
export async function waitForState(runDir: string, states: RunState[], timeoutMs: number): Promise<RunStatus> {
  return waitFor(`${path.basename(runDir)} to reach ${states.join(' or ')} (status.json: ${JSON.stringify(readStatus(runDir)?.state)})`, () => {
    const s = readStatus(runDir);
    if (s && s.state === 'failed' && !states.includes('failed')) throw new FatalWait(`run ${runDir} failed: ${s.error ?? 'no error recorded'}`);
    return s && states.includes(s.state) ? s : undefined;
  }, timeoutMs, 250);
}

/** Thrown from a waitFor probe to stop waiting at once. */
export class FatalWait extends Error {}
