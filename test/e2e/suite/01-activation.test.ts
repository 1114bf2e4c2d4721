// The extension loads from the development path and activates without error in a real VS Code.
import * as assert from 'assert';
import { activatedExtension, EXTENSION_ID, REPO_ROOT } from './helpers';

describe('activation', () => {
  it('the Lily extension is loaded from the development path and activates', async () => {
    const ext = await activatedExtension();
    assert.strictEqual(ext.isActive, true, `${EXTENSION_ID} did not become active`);
    assert.strictEqual(ext.extensionUri.fsPath, REPO_ROOT, 'the extension must be the one under test, not an installed copy');
  });
});
