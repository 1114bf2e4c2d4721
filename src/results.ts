// What every command returns (so tests in a real VS Code can check what happened), and the
// standard refusals. No vscode import.

export type CommandResult<T extends object = object> = ({ ok: true } & T) | { ok: false; reason: string };

export const refuse = (reason: string): { ok: false; reason: string } => ({ ok: false, reason });

export const UNTRUSTED_REASON =
  'Training is disabled in an untrusted workspace: a Lily config names files and folders that training reads and writes. ' +
  'Runs are still shown. Trust this workspace (command "Workspaces: Manage Workspace Trust") to train.';
