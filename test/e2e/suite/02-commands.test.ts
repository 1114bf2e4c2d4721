// Every command the manifest contributes (what users see in the command palette) is registered
// by the activated extension: a missing registration shows up as "command not found" for users.
import * as assert from 'assert';
import * as vscode from 'vscode';
import { activatedExtension, manifest } from './helpers';

describe('commands', () => {
  it('every command in package.json contributes.commands is registered', async () => {
    await activatedExtension();
    const contributed = manifest().contributes?.commands ?? [];
    assert.ok(contributed.length > 0, 'package.json contributes no commands (contributes.commands is missing or empty)');
    const registered = new Set(await vscode.commands.getCommands(true));
    const missing = contributed.filter((c) => !registered.has(c.command)).map((c) => `${c.command} ("${c.title}")`);
    assert.deepStrictEqual(missing, [], `contributed but not registered after activation: ${missing.join(', ')}`);
  });
});
