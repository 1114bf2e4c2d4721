// A minimal mocha reporter that writes plain lines to a sink (a file the harness tails) and
// collects the counts. Why not mocha's `spec` reporter: it writes through a `console.log`
// captured at load time, and the extension host's console does not reach the harness.
import type Mocha from 'mocha';

export interface SuiteResults {
  passed: number;
  failed: number;
  pending: number;
  failures: Array<{ title: string; message: string; stack?: string }>;
}

export class LineReporter {
  private passed = 0;
  private failed = 0;
  private pending = 0;
  private readonly failures: SuiteResults['failures'] = [];

  constructor(runner: Mocha.Runner, private readonly sink: (line: string) => void) {
    let depth = 0;
    const indent = () => '  '.repeat(depth);
    runner.on('suite', (suite) => {
      if (suite.title) sink(`${indent()}${suite.title}`);
      depth++;
    });
    runner.on('suite end', () => {
      depth--;
    });
    runner.on('pass', (test) => {
      this.passed++;
      sink(`${indent()}✓ ${test.title} (${test.duration ?? 0} ms)`);
    });
    runner.on('pending', (test) => {
      this.pending++;
      sink(`${indent()}- ${test.title} (pending)`);
    });
    runner.on('fail', (test, err: Error) => {
      this.failed++;
      const title = test.fullTitle();
      this.failures.push({ title, message: err?.message ?? String(err), stack: err?.stack });
      sink(`${indent()}✗ ${test.title}`);
      sink(`${indent()}  ${String(err?.message ?? err).split('\n').join(`\n${indent()}  `)}`);
    });
    runner.on('end', () => {
      sink(`extension tests: ${this.passed} passed, ${this.failed} failed, ${this.pending} pending`);
      for (const f of this.failures) sink(`FAILED ${f.title}\n${f.stack ?? f.message}`);
    });
  }

  results(): SuiteResults {
    return { passed: this.passed, failed: this.failed, pending: this.pending, failures: [...this.failures] };
  }
}
