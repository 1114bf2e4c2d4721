// Generates the JSON Schema of `*.lily.json` from the TypeScript types (the one source of truth).
// `npm run schema` writes it to schemas/lily.schema.json; test/config/schema.test.ts regenerates
// it in memory and fails when the committed file has drifted from types.ts.
//
// ts-json-schema-generator is a devDependency: this module is only loaded by the npm script and
// the tests, never by the backend at run time (which reads the committed JSON file).
import * as fs from 'fs';
import * as path from 'path';

const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const TYPES_FILE = path.join(REPO_ROOT, 'native-runtime', 'config', 'types.ts');
export const SCHEMA_FILE = path.join(REPO_ROOT, 'schemas', 'lily.schema.json');
export const RUN_FILES_TYPES_FILE = path.join(REPO_ROOT, 'native-runtime', 'runFiles.ts');
export const RUN_FILES_SCHEMA_FILE = path.join(REPO_ROOT, 'schemas', 'run-files.schema.json');

/** Generator settings shared by both schemas. */
const GENERATOR_OPTIONS = {
  // Only types.ts is compiled; a full type check would drag in the whole project.
  skipTypeCheck: true,
  expose: 'export',
  topRef: true,
  jsDoc: 'extended',
  markdownDescription: true,
  additionalProperties: false,
  // `@discriminator method` on AdapterSection becomes if/then per method, so validators
  // (ajv, VS Code) check an adapter against the variant its `method` names.
  discriminatorType: 'json-schema',
  sortProps: true,
} as const;

/** The schema as generated from types.ts (type `LilyConfig`). */
export function generateSchema(): Record<string, unknown> {
  // Required lazily so that importing this module costs nothing until generation is asked for.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const generator = require('ts-json-schema-generator') as typeof import('ts-json-schema-generator');
  const schema = generator
    .createGenerator({
      ...GENERATOR_OPTIONS,
      path: TYPES_FILE,
      type: 'LilyConfig',
    })
    .createSchema('LilyConfig') as Record<string, unknown>;
  requireDiscriminatorInIfs(schema);
  return { title: 'Lily training configuration (*.lily.json)', ...schema };
}

/**
 * The run directory's files (runFiles.ts, root type RunFilesContract): `definitions.RunStatus`,
 * `MetricLine`, `RouterLine`, ... validate status.json and each .jsonl line. Objects are closed, so
 * a writer that adds or misspells a field fails its test.
 */
export function generateRunFilesSchema(): Record<string, unknown> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const generator = require('ts-json-schema-generator') as typeof import('ts-json-schema-generator');
  const schema = generator
    .createGenerator({ ...GENERATOR_OPTIONS, path: RUN_FILES_TYPES_FILE, type: 'RunFilesContract' })
    .createSchema('RunFilesContract') as Record<string, unknown>;
  return { title: 'Lily run directory files (status.json, metrics.jsonl, router.jsonl, ...)', ...schema };
}

type SchemaNode = { [key: string]: unknown };

/**
 * The generator writes each method branch as `if: {properties: {method: {const}}}`, which also
 * matches when `method` is absent, so an adapter without `method` was checked against every
 * branch at once (a wall of errors). Requiring the discriminator inside each `if` makes a branch
 * apply only to its own method; a missing method is then reported once, by `required`.
 */
function requireDiscriminatorInIfs(node: unknown): void {
  if (Array.isArray(node)) { node.forEach(requireDiscriminatorInIfs); return; }
  if (!node || typeof node !== 'object') return;
  const obj = node as SchemaNode;
  const cond = obj.if as SchemaNode | undefined;
  if (cond && typeof cond.properties === 'object' && cond.properties && !cond.required) {
    cond.required = Object.keys(cond.properties);
  }
  Object.values(obj).forEach(requireDiscriminatorInIfs);
}

/** The schema text exactly as committed: two-space JSON with a final newline. */
export function schemaText(schema: Record<string, unknown> = generateSchema()): string {
  return JSON.stringify(schema, null, 2) + '\n';
}

if (require.main === module) {
  fs.mkdirSync(path.dirname(SCHEMA_FILE), { recursive: true });
  for (const [file, text] of [[SCHEMA_FILE, schemaText()], [RUN_FILES_SCHEMA_FILE, schemaText(generateRunFilesSchema())]] as const) {
    fs.writeFileSync(file, text);
    process.stdout.write(`wrote ${path.relative(process.cwd(), file)} (${text.length} bytes)\n`);
  }
}
