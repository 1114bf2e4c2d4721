// What the reliability tests injected and what came of it, for the README's Reliability figures
// (scripts/reliability-report.mjs runs these tests with LILY_RELIABILITY_LEDGER=FILE and prints
// the table). A test records an entry only after its assertions for that case passed, so every
// entry is a fault survived or a bad input refused cleanly.
import * as fs from 'fs';

export type LedgerKind = 'fault' | 'bad input';

export interface LedgerEntry {
  kind: LedgerKind;
  /** The family, e.g. `disk full`, `concurrent writers`. */
  what: string;
  detail: string;
  outcome: string;
}

const entries: LedgerEntry[] = [];

export function recordFault(what: string, detail: string, outcome: string): void {
  entries.push({ kind: 'fault', what, detail, outcome });
}

export function recordBadInput(what: string, detail: string, outcome: string): void {
  entries.push({ kind: 'bad input', what, detail, outcome });
}

// Written once when the mocha process exits (each test file may add entries).
process.on('exit', () => {
  const file = process.env.LILY_RELIABILITY_LEDGER;
  if (file && entries.length) fs.appendFileSync(file, entries.map((e) => JSON.stringify(e)).join('\n') + '\n');
});
