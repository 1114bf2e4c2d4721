#!/usr/bin/env node
// The `lily` command: the compiled backend CLI (built by `npm run build`, run on `npm install`).
require('../out/native-runtime/cli.js').main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => { console.error(err && err.stack ? err.stack : String(err)); process.exitCode = 1; }
);
