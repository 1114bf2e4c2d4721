// Workspace Trust: which commands an untrusted workspace refuses, and in what words. Training,
// inspection and export run `lily` processes that read the files a config or run names and
// write into run directories; in Restricted Mode Lily only shows (runs, dashboards, problems).
// Checked once, for every command, in the command loop (commands.ts). No vscode import.
import { UNTRUSTED_REASON } from './results';

const howToTrust = 'Trust this workspace (command "Workspaces: Manage Workspace Trust") to';

/** Command id -> why it is refused in an untrusted workspace. */
export const TRUST_REQUIRED: Readonly<Record<string, string>> = {
  'lily.train': UNTRUSTED_REASON,
  'lily.compareLora': UNTRUSTED_REASON,
  'lily.trainTorch': UNTRUSTED_REASON,
  'lily.sweep': UNTRUSTED_REASON,
  'lily.resume': UNTRUSTED_REASON,
  'lily.inspect':
    'Inspect is disabled in an untrusted workspace: it runs `lily inspect`, which loads the run\'s model and writes router_stats.json and spectrum.json into the run. ' +
    `The dashboard still shows the run's last inspection. ${howToTrust} inspect.`,
  'lily.importModel':
    `Import is disabled in an untrusted workspace: it runs a Python interpreter (lily.pythonPath may come from the workspace) and writes the model into it. ${howToTrust} import.`,
  'lily.export':
    `Export is disabled in an untrusted workspace: it loads the run's model and writes files next to the run. ${howToTrust} export.`,
};

/** The refusal for running `commandId` now, or undefined when it may run. */
export function trustRefusal(commandId: string, workspaceTrusted: boolean): string | undefined {
  return workspaceTrusted ? undefined : TRUST_REQUIRED[commandId];
}
