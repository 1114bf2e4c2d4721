// Issue #11 item 6: layer names when node names carry no module path. Cross-layer sharing needs
// every layer of a family under one name, so the name must come from what the file does say:
// - generic node names (MatMul_3, Gemm_9) with weights named h.0.attn.c_attn.weight: the weight;
// - torch's dynamo exporter (node_linear_3, weights val_12): the nodes' metadata_props
//   pkg.torch.onnx.name_scopes;
// - and two different target groups never show the same name (a TF export's
//   ...attention.output.dense.Tensordot and ...output.dense.Tensordot).
import * as assert from 'assert';
import * as path from 'path';
import { displayNames, listTargetGroups } from '../../native-runtime/adapters/targets';
import { loadModel } from '../../native-runtime/onnx/proto';
import { lily } from '../cli/workspace';
import { assertSameLosses, handModels, trainToy } from './models';

const groupsOf = (dir: string) => listTargetGroups(loadModel(path.join(dir, 'model.onnx')));

describe('third-party ONNX: layer names without module paths in node names', function () {
  this.timeout(120_000);
  let dirs: Record<string, string>;
  before(() => { dirs = handModels(['generic-names', 'dynamo-names', 'tf-suffixes']); });

  for (const kind of ['generic-names', 'dynamo-names']) {
    it(`${kind}: layers are named by module path and grouped across layers`, () => {
      const groups = groupsOf(dirs[kind]);
      assert.deepStrictEqual(groups.map((g) => [g.suffix, g.modules]), [
        ['attn.c_attn', ['h.0.attn.c_attn', 'h.1.attn.c_attn']],
        ['classifier', ['classifier']],
      ]);
    });
  }

  it('generic and dynamo names train the same shared Lily adapter with the same losses', async () => {
    const adapter = { target_modules: ['c_attn'], modules_to_save: ['classifier'], stride_A: 2 };
    const generic = await trainToy(dirs['generic-names'], adapter);
    assert.strictEqual(generic.code, 0, generic.stderr);
    const dynamo = await trainToy(dirs['dynamo-names'], adapter);
    assert.strictEqual(dynamo.code, 0, dynamo.stderr);
    assert.strictEqual(generic.losses.length, 3);
    assertSameLosses(dynamo.losses, generic.losses, 'dynamo-names vs generic-names');
  });

  it('groups whose suffixes agree get distinct names that still select them', async () => {
    const groups = groupsOf(dirs['tf-suffixes']);
    assert.deepStrictEqual(groups.map((g) => [g.suffix, g.d_in, g.d_out, g.modules.length]), [
      ['attention.output.dense.Tensordot', 8, 8, 2],
      ['intermediate.dense.Tensordot', 8, 16, 2],
      ['output.dense.Tensordot', 16, 8, 2],
      ['classifier', 8, 2, 1],
    ]);
    const names = displayNames(groups);
    assert.strictEqual(new Set(names).size, names.length, `duplicate names: ${names}`);
    const r = await lily(['targets', path.join(dirs['tf-suffixes'], 'model.onnx')], dirs['tf-suffixes']);
    assert.strictEqual(r.code, 0, r.stderr);
    const shown = r.stdout.split('\n').slice(2).map((l) => l.split(/\s+/)[0]).filter(Boolean);
    assert.deepStrictEqual(shown, names);
  });

  it('displayNames adds the shape only where two groups keep the same suffix', () => {
    const g = (suffix: string, d_in: number, d_out: number) => ({ suffix, d_in, d_out, modules: [] });
    assert.deepStrictEqual(displayNames([g('dense', 8, 8), g('dense', 16, 8), g('query', 8, 8)]), ['dense@8x8', 'dense@16x8', 'query']);
  });
});
