// `lily init` points `$schema` at the committed schema (package root), also when it runs from
// the compiled out/ tree, where the build leaves a copy of the schema.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { schemaFile, schemaRefFor } from '../../native-runtime/cli/schemaPath';

describe('cli: $schema of scaffolded configs', () => {
  it('is the package root\'s schemas/lily.schema.json, not the copy under out/', () => {
    const pkg = fs.mkdtempSync(path.join(os.tmpdir(), 'lily-schema-'));
    fs.writeFileSync(path.join(pkg, 'package.json'), '{}');
    for (const dir of ['schemas', 'out/schemas', 'out/native-runtime/cli']) fs.mkdirSync(path.join(pkg, dir), { recursive: true });
    fs.writeFileSync(path.join(pkg, 'schemas', 'lily.schema.json'), '{}');
    fs.writeFileSync(path.join(pkg, 'out', 'schemas', 'lily.schema.json'), '{}');
    const compiled = path.join(pkg, 'out', 'native-runtime', 'cli');
    assert.strictEqual(schemaFile(compiled), path.join(pkg, 'schemas', 'lily.schema.json'));
    assert.strictEqual(schemaRefFor(path.join(pkg, 'examples', 'a.lily.json'), compiled), '../schemas/lily.schema.json');
    assert.strictEqual(schemaRefFor(path.join(pkg, 'a.lily.json'), compiled), './schemas/lily.schema.json');
    fs.rmSync(pkg, { recursive: true, force: true });
  });

  it('from this source tree, is the committed schema', () => {
    assert.strictEqual(schemaFile(), path.resolve(__dirname, '../../schemas/lily.schema.json'));
  });
});
