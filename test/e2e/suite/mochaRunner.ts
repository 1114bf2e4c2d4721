// Runs the mocha test files of one folder inside the real VS Code extension host and reports
// to the harness. The harness (test/e2e/run.mjs) starts the VS Code server with two environment
// variables that the extension host inherits:
//   LILY_E2E_LOG      a file that receives the test report line by line (the harness tails it
//                     to its stdout: the extension host's own stdout is not visible to it);
//   LILY_E2E_RESULTS  a JSON file with the pass/fail counts and failure messages, written at the end.
// Used by suite/index.ts (the main suite) and restricted/index.ts (restricted mode).
import * as fs from 'fs';
import * as path from 'path';
import Mocha from 'mocha';
import { LineReporter, type SuiteResults } from './lineReporter';

/** Runs `dir`'s *.test.js files in name order; rejects when a test failed (the workbench then exits with 1). */
export async function runTestsIn(dir: string): Promise<void> {
  const logFile = process.env.LILY_E2E_LOG;
  const resultsFile = process.env.LILY_E2E_RESULTS;
  const sink = (line: string) => {
    if (logFile) fs.appendFileSync(logFile, line + '\n');
    else console.log(line);
  };
  const mocha = new Mocha({ ui: 'bdd', color: false, timeout: 60_000, grep: process.env.LILY_E2E_GREP || undefined });
  // Files run in name order: numbered names give a readable story (activation first).
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.test.js')).sort()) {
    mocha.addFile(path.join(dir, file));
  }
  const results = await new Promise<SuiteResults>((resolve, reject) => {
    try {
      const runner = mocha.run();
      const reporter = new LineReporter(runner, sink);
      runner.on('end', () => resolve(reporter.results()));
    } catch (err) {
      // A test file that throws while loading (syntax, a bad import) ends up here.
      reject(err);
    }
  });
  if (resultsFile) fs.writeFileSync(resultsFile, JSON.stringify(results, null, 2) + '\n');
  if (results.failed > 0) throw new Error(`${results.failed} of ${results.passed + results.failed} extension tests failed`);
}
