// Puts the latest benchmark table and goal summary into README.md, between the markers
// <!-- bench:results:start --> and <!-- bench:results:end --> (everything between them is
// replaced; the text around them is written by hand).
import * as fs from 'node:fs';
import { formatGoals, formatTable } from './table.mjs';

const START = '<!-- bench:results:start -->';
const END = '<!-- bench:results:end -->';

export function updateReadme(readmePath, report) {
  const text = fs.readFileSync(readmePath, 'utf8');
  const a = text.indexOf(START), b = text.indexOf(END);
  if (a < 0 || b < a) throw new Error(`${readmePath}: no ${START} ... ${END} block to write the benchmark results into`);
  const block = `${START}\n<!-- written by \`npm run bench\` (bench/lib/readme.mjs) from bench/results/latest.json; do not edit by hand -->\n${formatTable(report)}\n\nGoals in this run:\n${formatGoals(report)}\n${END}`;
  fs.writeFileSync(readmePath, text.slice(0, a) + block + text.slice(b + END.length));
}
