// Whether the workspace holds a *.lily.json, as the context key `lily.hasConfig`: the Runs
// view's welcome offers to create a config only when there is none, and to train one when
// configs exist but no run does (package.json `viewsWelcome`). Kept current by a file watcher.
import * as vscode from 'vscode';

const CONFIG_GLOB = '**/*.lily.json';
const EXCLUDE = '**/node_modules/**';

export class ConfigPresence implements vscode.Disposable {
  private present: boolean | undefined;
  private generation = 0;
  private readonly watcher = vscode.workspace.createFileSystemWatcher(CONFIG_GLOB, false, true, false);
  private readonly subs: vscode.Disposable[];
  /** Settles after the latest look at the workspace (tests wait on it). */
  ready: Promise<boolean>;

  constructor() {
    this.subs = [
      this.watcher,
      // A created file proves presence at once; a deletion needs a new search.
      this.watcher.onDidCreate(() => { this.generation++; this.ready = Promise.resolve(this.set(true)); }),
      this.watcher.onDidDelete(() => { this.ready = this.recount(); }),
      vscode.workspace.onDidChangeWorkspaceFolders(() => { this.ready = this.recount(); }),
    ];
    this.ready = this.recount();
  }

  /** undefined until the first search finished. */
  get hasConfig(): boolean | undefined {
    return this.present;
  }

  dispose(): void {
    for (const s of this.subs) s.dispose();
  }

  private async recount(): Promise<boolean> {
    const mine = ++this.generation;
    const found = await vscode.workspace.findFiles(CONFIG_GLOB, EXCLUDE, 1).then((f) => f.length > 0, () => false);
    // A newer event (a file created while this search ran) has the final word.
    return mine === this.generation ? this.set(found) : this.present ?? found;
  }

  private set(value: boolean): boolean {
    if (value !== this.present) {
      this.present = value;
      void vscode.commands.executeCommand('setContext', 'lily.hasConfig', value);
    }
    return value;
  }
}
