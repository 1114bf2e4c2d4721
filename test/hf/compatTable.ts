// The compatibility table the zoo tests produce: each test file records rows and writes them as
// JSON and Markdown under test-artifacts/hf-zoo/; `node scripts/hf-compat-readme.mjs` pastes the
// Markdown into README.md between its markers. So the README's table is what a test run measured.
import * as fs from 'fs';
import * as path from 'path';
import { ROOT, type Zoo } from './zooCache';

export const COMPAT_DIR = path.join(ROOT, 'test-artifacts/hf-zoo');

export interface Cell {
  /** `trains`: lily train completed (and matched PEFT where a reference exists). */
  status: 'trains' | 'fails' | 'export failed' | 'mismatch';
  /** Largest relative difference to PEFT over the 10 training losses and the final eval loss. */
  parity?: number;
  note?: string;
}

export interface TrainingRow {
  model: string;
  modelClass: string;
  exporter: string;
  opset?: number;
  lily?: Cell;
  lora?: Cell;
}

const cellText = (c: Cell | undefined): string => {
  if (!c) return '';
  const fig = c.parity !== undefined ? ` ${c.parity.toExponential(1)}` : '';
  const mark = c.status === 'trains' ? '✓' : '✗';
  return `${mark} ${c.status === 'trains' ? '' : c.status}${fig}${c.note ? ` (${c.note})` : ''}`.replace(/\s+/g, ' ').trim();
};

export function trainingMarkdown(rows: TrainingRow[], zoo: Zoo): string {
  const v = zoo.manifest.versions;
  const lines = [
    `Measured by \`npx mocha test/hf/peftParity.test.ts\` on ${new Date().toISOString().slice(0, 10)} (torch ${v.torch}, transformers ${v.transformers}, peft ${v.peft}, optimum ${v.optimum}).`,
    `Each cell: \`lily train\` on the export, ${zoo.manifest.training.steps} AdamW steps, against PEFT's own \`get_peft_model\` training (float64) from the same initial adapter on the same batches;`,
    'the figure is the largest relative difference over every step\'s loss and the final eval loss (pass: ≤ 1e-4).',
    '',
    '| model | exporter | opset | Lily (batch routing) | LoRA |',
    '| --- | --- | --- | --- | --- |',
  ];
  for (const r of rows) lines.push(`| ${r.model} (\`${r.modelClass}\`) | ${r.exporter} | ${r.opset ?? '–'} | ${cellText(r.lily)} | ${cellText(r.lora)} |`);
  return lines.join('\n') + '\n';
}

export function writeArtifact(name: string, json: unknown, markdown: string): void {
  fs.mkdirSync(COMPAT_DIR, { recursive: true });
  fs.writeFileSync(path.join(COMPAT_DIR, `${name}.json`), JSON.stringify(json, null, 1));
  fs.writeFileSync(path.join(COMPAT_DIR, `${name}.md`), markdown);
}
