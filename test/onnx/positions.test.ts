// The position-table size that bounds data.max_length in a new config.
import * as assert from 'assert';
import * as path from 'path';
import { loadModel } from '../../native-runtime/onnx/proto';
import { maxPositions } from '../../native-runtime/onnx/positions';
import { encoderModel } from '../extension/fixtures';

describe('onnx: maxPositions', () => {
  it('reads the bundled demo\'s position table (32 rows) and knows when a model has none', () => {
    assert.strictEqual(maxPositions(loadModel(path.resolve(__dirname, '../../examples/sentiment/model.onnx'))), 32);
    assert.strictEqual(maxPositions(encoderModel()), undefined);
  });
});
