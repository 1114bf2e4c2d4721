// Reveals a file or folder the best way this window allows (see revealModel.ts for the choice).
import * as vscode from 'vscode';
import { revealWay, type RevealWay } from './revealModel';

export async function revealPath(target: string): Promise<RevealWay> {
  const commands = await vscode.commands.getCommands(true);
  const way = revealWay(target, {
    hasRevealInOS: commands.includes('revealFileInOS'),
    remoteName: vscode.env.remoteName,
    desktop: vscode.env.uiKind === vscode.UIKind.Desktop,
    workspaceFolders: (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath),
  });
  const uri = vscode.Uri.file(target);
  switch (way) {
    case 'os':
      await vscode.commands.executeCommand('revealFileInOS', uri);
      break;
    case 'explorer':
      await vscode.commands.executeCommand('revealInExplorer', uri);
      break;
    case 'clipboard':
      await vscode.env.clipboard.writeText(target);
      void vscode.window.showInformationMessage(`Lily: ${target} is outside the workspace, so the Explorer cannot show it; its path was copied to the clipboard.`);
      break;
  }
  return way;
}
