// Entry point of the restricted-mode tests (an untrusted workspace), run inside the real VS Code
// extension host on a server whose user settings turn workspace trust on (test/e2e/run.mjs).
import { runTestsIn } from '../suite/mochaRunner';

export function run(): Promise<void> {
  return runTestsIn(__dirname);
}
