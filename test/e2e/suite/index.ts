// Entry point of the extension tests that run INSIDE the real VS Code extension host.
// VS Code loads this module (the `extensionTestsPath` of the test payload) and awaits `run()`;
// a rejection makes the workbench exit with code 1. The harness (test/e2e/run.mjs) starts the
// VS Code server with two environment variables that the extension host inherits:
//   LILY_E2E_LOG      a file that receives the test report line by line (the harness tails it
//                     to its stdout: the extension host's own stdout is not visible to it);
//   LILY_E2E_RESULTS  a JSON file with the pass/fail counts and failure messages, written at the end.
import * as fs from 'fs';
import * as path from 'path';
import Mocha from 'mocha';
import { LineReporter, type SuiteResults } from './lineReporter';

export async function run(): Promise<void> {
  const logFile = process.env.LILY_E2E_LOG;
  const resultsFile = process.env.LILY_E2E_RESULTS;
  const sink = (line: string) => {
    if (logFile) fs.appendFileSync(logFile, line + '\n');
    else console.log(line);
  };
  const mocha = new Mocha({ ui: 'bdd', color: false, timeout: 60_000, grep: process.env.LILY_E2E_GREP || undefined });
  // Files run in name order: numbered names give a readable story (activation first).
  for (const file of fs.readdirSync(__dirname).filter((f) => f.endsWith('.test.js')).sort()) {
    mocha.addFile(path.join(__dirname, file));
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
