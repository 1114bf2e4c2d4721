// Where "Reveal" shows a file. The OS file manager only exists in desktop VS Code on the same
// machine as the files: in remote windows (SSH, containers, code-server) and in the browser,
// `revealFileInOS` is not registered ("command 'revealFileInOS' not found") or would open the
// wrong machine's file manager. There the file is revealed in VS Code's Explorer when it lies in
// the workspace, and otherwise its path is copied and shown. No vscode import (tested in Node).
import * as path from 'path';

export type RevealWay = 'os' | 'explorer' | 'clipboard';

export interface RevealContext {
  /** Whether `revealFileInOS` is a registered command in this window. */
  hasRevealInOS: boolean;
  /** `vscode.env.remoteName` (undefined in a local window). */
  remoteName: string | undefined;
  /** Whether VS Code runs as a desktop app (vscode.UIKind.Desktop), not in a browser. */
  desktop: boolean;
  /** The workspace folders' paths. */
  workspaceFolders: string[];
}

export function isInside(folder: string, p: string): boolean {
  const rel = path.relative(folder, p);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

export function revealWay(target: string, ctx: RevealContext): RevealWay {
  if (ctx.hasRevealInOS && ctx.remoteName === undefined && ctx.desktop) return 'os';
  if (ctx.workspaceFolders.some((f) => isInside(f, target))) return 'explorer';
  return 'clipboard';
}
