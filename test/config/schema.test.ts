// The committed JSON Schema must be exactly what types.ts generates, and the resolver's static
// defaults must equal the schema's `default` keywords (what VS Code offers on completion).
import * as assert from 'assert';
import * as fs from 'fs';
import { DEFAULTS } from '../../native-runtime/config/resolved';
import { RUN_FILES_SCHEMA_FILE, SCHEMA_FILE, generateRunFilesSchema, generateSchema, schemaText } from '../../native-runtime/config/schema';

describe('config schema', function () {
  this.timeout(60000);
  let generated: Record<string, any>;
  before(() => { generated = generateSchema(); });

  it('the committed schemas/lily.schema.json matches types.ts', () => {
    const committed = fs.readFileSync(SCHEMA_FILE, 'utf8');
    if (committed !== schemaText(generated)) {
      assert.fail('schemas/lily.schema.json is out of date with native-runtime/config/types.ts: run `npm run schema` and commit the result');
    }
  });

  it('the committed schemas/run-files.schema.json matches runFiles.ts', () => {
    if (fs.readFileSync(RUN_FILES_SCHEMA_FILE, 'utf8') !== schemaText(generateRunFilesSchema())) {
      assert.fail('schemas/run-files.schema.json is out of date with native-runtime/runFiles.ts: run `npm run schema` and commit the result');
    }
  });

  it('closes every object (additionalProperties: false) and switches the adapter on `method`', () => {
    const defs = generated.definitions;
    for (const name of ['LilyConfig', 'ModelSection', 'DataSection', 'LilyAdapterConfig', 'LoraAdapterConfig', 'TrainingSection', 'DivergenceSection', 'RuntimeSection', 'OutputSection']) {
      assert.strictEqual(defs[name].additionalProperties, false, name);
    }
    const branches = defs.AdapterSection.allOf.map((b: any) => [b.if.properties.method.const, b.if.required, b.then.$ref]);
    assert.deepStrictEqual(branches, [
      ['lily', ['method'], '#/definitions/LilyAdapterConfig'],
      ['lora', ['method'], '#/definitions/LoraAdapterConfig'],
    ]);
    assert.strictEqual(defs.LilyAdapterConfig.properties.num_B.type, 'integer');
    assert.strictEqual(defs.LilyAdapterConfig.properties.num_B.minimum, 2);
    assert.ok(defs.LilyAdapterConfig.properties.num_B.markdownDescription.length > 10);
  });

  it('schema defaults equal the resolver defaults', () => {
    const defs = generated.definitions;
    const dflt = (def: string, prop: string) => defs[def].properties[prop].default;
    for (const [k, v] of Object.entries(DEFAULTS.training)) assert.deepStrictEqual(dflt('TrainingSection', k), v, `training.${k}`);
    for (const [k, v] of Object.entries(DEFAULTS.lily)) assert.deepStrictEqual(dflt('LilyAdapterConfig', k), v, `lily ${k}`);
    for (const [k, v] of Object.entries(DEFAULTS.data)) assert.deepStrictEqual(dflt('DataSection', k), v, `data.${k}`);
    for (const [k, v] of Object.entries(DEFAULTS.model)) assert.deepStrictEqual(dflt('ModelSection', k), v, `model.${k}`);
    for (const [k, v] of Object.entries(DEFAULTS.divergence)) assert.deepStrictEqual(dflt('DivergenceSection', k), v, `training.divergence.${k}`);
    assert.strictEqual(dflt('LoraAdapterConfig', 'r'), DEFAULTS.lora.r);
    assert.strictEqual(dflt('LilyAdapterConfig', 'init'), DEFAULTS.adapter.init);
    assert.strictEqual(dflt('RuntimeSection', 'device'), DEFAULTS.runtime.device);
    assert.strictEqual(dflt('OutputSection', 'dir'), DEFAULTS.output.dir);
  });
});
