// output.dir outside the workspace (issue 13, item 8): a warning on the output.dir field, not an
// error (a trusted workspace may want it); inside, or the default, nothing.
import * as assert from 'assert';
import { toEditorDiagnostics } from '../../src/diagnosticsModel';
import { outputDirWarning } from '../../src/outputDirModel';

describe('editor: output.dir outside the workspace', () => {
  const ws = ['/work/project'];
  const config = (output?: object) => JSON.stringify({ model: { path: 'm.onnx' }, ...(output ? { output } : {}) }, null, 2);

  it('warns, on the output.dir value, when it resolves outside every workspace folder', () => {
    for (const dir of ['/tmp/runs', '../elsewhere/runs']) {
      const text = config({ dir });
      const d = outputDirWarning(text, ws);
      assert.ok(d, dir);
      assert.strictEqual(d.severity, 'warning');
      assert.deepStrictEqual(d.path, ['output', 'dir']);
      assert.match(d.message, /^output\.dir: runs will be written to \/.*, outside the workspace \(\/work\/project\)/);
      const [shown] = toEditorDiagnostics(text, [d]);
      assert.strictEqual(text.split('\n')[shown.range.start.line].includes('"dir"'), true, 'the range is on the output.dir line');
    }
  });

  it('says nothing for the default, a folder inside, another workspace folder, or no workspace', () => {
    assert.strictEqual(outputDirWarning(config(), ws), undefined);
    assert.strictEqual(outputDirWarning(config({ dir: 'out/runs' }), ws), undefined);
    assert.strictEqual(outputDirWarning(config({ dir: '/work/other/runs' }), [...ws, '/work/other']), undefined);
    assert.strictEqual(outputDirWarning(config({ dir: '/tmp/runs' }), []), undefined);
    assert.strictEqual(outputDirWarning('{ not json', ws), undefined);
  });
});
