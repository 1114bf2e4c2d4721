// findFieldRange: the text range of a diagnostic's field, for editor squiggles.
import * as assert from 'assert';
import { findFieldRange, findNearestFieldRange } from '../../native-runtime/config/validate';

describe('findFieldRange', () => {
  const text = '{\n  "model": { "path": "m.onnx" },\n  "adapter": {\n    "method": "lily",\n    "stide_A": 2,\n    "target_modules": ["query", "value"]\n  }\n}\n';
  const at = (r: { offset: number; length: number } | undefined) => (r ? text.slice(r.offset, r.offset + r.length) : undefined);

  it('finds a value by object path and array index', () => {
    assert.strictEqual(at(findFieldRange(text, ['model', 'path'])), '"m.onnx"');
    assert.strictEqual(at(findFieldRange(text, ['adapter', 'target_modules', 1])), '"value"');
    assert.strictEqual(at(findFieldRange(text, ['model'])), '{ "path": "m.onnx" }');
  });

  it('finds the key of a field (for unknown-field diagnostics)', () => {
    const r = findFieldRange(text, ['adapter', 'stide_A'], 'key');
    assert.strictEqual(at(r), '"stide_A"');
    assert.deepStrictEqual(r, { offset: text.indexOf('"stide_A"'), length: 9 });
  });

  it('returns undefined for a field that is not there', () => {
    assert.strictEqual(findFieldRange(text, ['adapter', 'num_B']), undefined);
    assert.strictEqual(findFieldRange(text, ['adapter', 'target_modules', 5]), undefined);
  });

  it('falls back to the nearest existing parent key for a missing field', () => {
    assert.strictEqual(at(findNearestFieldRange(text, ['adapter', 'num_B'])), '"adapter"');
    assert.deepStrictEqual(findNearestFieldRange(text, ['training', 'lr']), { offset: 0, length: 1 });
  });
});
