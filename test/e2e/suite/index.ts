// Entry point of the extension tests that run INSIDE the real VS Code extension host.
// VS Code loads this module (the `extensionTestsPath` of the test payload) and awaits `run()`;
// a rejection makes the workbench exit with code 1. What the harness passes: mochaRunner.ts.
import { runTestsIn } from './mochaRunner';

export function run(): Promise<void> {
  return runTestsIn(__dirname);
}
