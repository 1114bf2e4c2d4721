// Entry point for tests that need `lily` as a separate process (signals), run through tsx so
// no build is needed: node -r tsx/cjs test/cli/runCli.ts <args>.
import { main } from '../../native-runtime/cli';

main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
