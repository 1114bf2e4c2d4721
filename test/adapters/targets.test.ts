import { strict as assert } from 'assert';
import { findLinearLayers, layerIndexOf, listTargetGroups, matchTargets, moduleNameOf, targetSuffix, type LinearLayer } from '../../native-runtime/adapters/targets';
import { exportedModel } from '../parity/exportedModels';
import { tinyModel } from './tinyGraph';

function layer(module: string, d_in = 8, d_out = 8): LinearLayer {
  return { module, node: `/${module.split('.').join('/')}/MatMul`, weight: `${module}.weight`, d_in, d_out, kind: 'matmul', transB: false };
}

const BERT = [0, 1, 2].flatMap((i) => [
  layer(`encoder.layer.${i}.attention.self.query`),
  layer(`encoder.layer.${i}.attention.self.value`),
  layer(`encoder.layer.${i}.attention.output.dense`),
  layer(`encoder.layer.${i}.intermediate.dense`, 8, 16),
  layer(`encoder.layer.${i}.output.dense`, 16, 8),
]).concat([layer('pooler.dense'), layer('classifier', 8, 3)]);

describe('adapters/targets', () => {
  it('names modules from torch node names, else from the weight or bias name', () => {
    assert.equal(moduleNameOf('/encoder/layer.3/attention/self/value/MatMul', 'onnx::MatMul_9'), 'encoder.layer.3.attention.self.value');
    assert.equal(moduleNameOf('/model/layers.0/self_attn/q_proj/MatMul_1', 'x'), 'model.layers.0.self_attn.q_proj');
    assert.equal(moduleNameOf('MatMul_12', 'encoder.layer.3.attention.self.value.weight'), 'encoder.layer.3.attention.self.value');
    assert.equal(moduleNameOf('MatMul_12', 'onnx::MatMul_77', 'h.0.mlp.fc_in.bias'), 'h.0.mlp.fc_in');
    assert.equal(moduleNameOf('Gemm_3', 'onnx::Gemm_5'), 'Gemm_3');
  });

  it('finds MatMul (plain or through a Transpose) and Gemm layers with their bias and shape', () => {
    const layers = findLinearLayers(tinyModel());
    assert.deepEqual(layers.map((l) => [l.module, l.kind, l.weight, l.bias, l.d_in, l.d_out, l.transB]), [
      ['layer.0.value', 'matmul', 'onnx::MatMul_0', 'layer.0.value.bias', 4, 4, false],
      ['layer.1.value', 'matmul', 'onnx::MatMul_1', 'layer.1.value.bias', 4, 4, false],
      ['classifier', 'gemm', 'classifier.weight', 'classifier.bias', 4, 3, true],
    ]);
  });

  for (const kind of ['encoder', 'decoder', 'vit'] as const) {
    it(`finds every nn.Linear of the exported ${kind} oracle, with torch's names and shapes`, () => {
      const m = exportedModel(kind);
      const got = findLinearLayers(m.load()).map((l) => [l.module, l.d_in, l.d_out]);
      assert.deepEqual(got, m.manifest.linear_modules);
    });
  }

  it('suffixes and layer indices', () => {
    assert.equal(targetSuffix('encoder.layer.3.attention.self.value'), 'attention.self.value');
    assert.equal(targetSuffix('model.layers.0.self_attn.q_proj'), 'self_attn.q_proj');
    assert.equal(targetSuffix('a.b.c.d.e'), 'c.d.e');
    assert.equal(targetSuffix('classifier'), 'classifier');
    assert.equal(layerIndexOf('encoder.layer.3.attention.self.value'), 3);
    assert.equal(layerIndexOf('h.11.mlp.fc_in'), 11);
    assert.equal(layerIndexOf('stage.2.x.7.proj'), 2);
    assert.equal(layerIndexOf('classifier'), undefined);
  });

  it('lists target groups by suffix and weight shape, in model order', () => {
    const groups = listTargetGroups(exportedModel('encoder').load());
    const value = groups.find((g) => g.suffix === 'attention.self.value')!;
    assert.deepEqual(value.modules, ['encoder.layer.0.attention.self.value', 'encoder.layer.1.attention.self.value']);
    assert.equal(value.d_in, 32);
    const suffixes = groups.map((g) => g.suffix);
    assert.ok(suffixes.includes('classifier') && suffixes.includes('pooler.dense') && suffixes.includes('intermediate.dense'), suffixes.join(', '));
  });

  it('matches list entries as exact names or dotted suffixes (PEFT), grouped by entry and shape', () => {
    const t = matchTargets(BERT, { target_modules: ['value', 'dense'] });
    assert.deepEqual(t.map((g) => [g.key, g.target, g.d_in, g.d_out, g.layers.length]), [
      ['value', 'value', 8, 8, 3],
      ['dense@8x8', 'dense', 8, 8, 4], // attention.output.dense x3 and pooler.dense
      ['dense@8x16', 'dense', 8, 16, 3],
      ['dense@16x8', 'dense', 16, 8, 3],
    ]);
    // `alue` is not a dotted suffix of `value`.
    assert.throws(() => matchTargets(BERT, { target_modules: ['alue'] }), /"alue" matches no linear layer.*Available suffixes: attention.self.query/);
    assert.throws(() => matchTargets(BERT, { target_modules: ['qurey'] }), /did you mean "query"/);
    assert.deepEqual(matchTargets(BERT, { target_modules: ['classifier'] })[0].layers.map((l) => l.module), ['classifier']);
  });

  it('a regex string must match the whole name and forms one target', () => {
    const t = matchTargets(BERT, { target_modules: '.*\\.attention\\.self\\.(query|value)' });
    assert.equal(t.length, 1);
    assert.equal(t[0].target, '.*\\.attention\\.self\\.(query|value)');
    assert.equal(t[0].layers.length, 6);
    assert.deepEqual(t[0].layers.slice(0, 2).map((l) => l.module), ['encoder.layer.0.attention.self.query', 'encoder.layer.0.attention.self.value']);
    assert.throws(() => matchTargets(BERT, { target_modules: 'query' }), /matches no linear layer/); // not a full match
    assert.throws(() => matchTargets(BERT, { target_modules: '(' }), /not a valid regular expression/);
  });

  it('exclude_modules and layers_to_transform filter the matched layers', () => {
    const ex = matchTargets(BERT, { target_modules: ['value', 'query'], exclude_modules: ['encoder.layer.1.attention.self.value'] });
    assert.deepEqual(ex.map((g) => [g.target, g.layers.length]), [['query', 3], ['value', 2]]);
    const exRe = matchTargets(BERT, { target_modules: ['value'], exclude_modules: '.*layer\\.[02]\\..*' });
    assert.deepEqual(exRe[0].layers.map((l) => l.module), ['encoder.layer.1.attention.self.value']);
    const some = matchTargets(BERT, { target_modules: ['value'], layers_to_transform: [0, 2] });
    assert.deepEqual(some[0].layers.map((l) => l.module), ['encoder.layer.0.attention.self.value', 'encoder.layer.2.attention.self.value']);
    assert.throws(() => matchTargets(BERT, { target_modules: ['value'], layers_to_transform: [9] }), /removed all of them/);
  });
});
