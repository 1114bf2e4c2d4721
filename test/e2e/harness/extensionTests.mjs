// Part (a): the extension test suite inside the real extension host. The workbench loads the
// extension from `extensionDevelopmentPath`, then the module at `extensionTestsPath`, awaits its
// `run()` and reports the exit code through `window.codeAutomationExit(code)`, which we provide.
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { workbenchUrl } from './browser.mjs';
import { attachConsole } from './pageConsole.mjs';
import { Watchdog } from './watchdog.mjs';
import { withTimeout } from './processes.mjs';

/**
 * @returns {Promise<{ passed: number, failed: number, failures: string[] }>}
 */
export async function runExtensionTests({ label, extensionId, browser, server, extensionRoot, testsIndex, workspace, logFile, resultsFile, timeoutMs, artifacts, print }) {
  const watchdog = new Watchdog(extensionRoot);
  const logsRoot = path.join(server.dirs.userData, 'logs');
  watchdog.skipExistingLogs(logsRoot);
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  let exitCode;
  let exit;
  const exited = new Promise((resolve) => {
    exit = resolve;
  });
  await page.exposeFunction('codeAutomationExit', (code) => {
    exitCode = code;
    exit(code);
  });
  attachConsole(page, { label, artifacts, extensionRoot, extensionId, watchdog, print });

  // Stream the suite's report (the extension host writes it to logFile) to our stdout.
  const tail = tailFile(logFile, print);
  const logsPoll = setInterval(() => watchdog.pollLogs(logsRoot), 500);
  const payload = [
    ['extensionDevelopmentPath', server.remoteUri(extensionRoot)],
    ['extensionTestsPath', server.remoteUri(testsIndex)],
  ];
  try {
    await page.goto(workbenchUrl(server, workspace, payload));
    await withTimeout(Promise.race([exited, watchdog.failure(), server.exitPromise.then((c) => {
      throw new Error(`the VS Code server exited with ${c} during the extension tests`);
    })]), timeoutMs, 'the extension tests');
  } catch (err) {
    await page.screenshot({ path: path.join(artifacts, `${label}-failure.png`) }).catch(() => {});
    tail.flush();
    return summarise(resultsFile, [`extension tests: ${err instanceof Error ? err.message : err}`]);
  } finally {
    clearInterval(logsPoll);
    tail.stop();
    await context.close().catch(() => {});
  }
  const extra = exitCode === 0 ? [] : [`extension tests: the workbench exited with code ${exitCode}`];
  return summarise(resultsFile, extra);
}

/** Counts from the suite's results file; a missing file means the suite never finished. */
function summarise(resultsFile, problems) {
  if (!existsSync(resultsFile)) {
    return { passed: 0, failed: Math.max(1, problems.length), failures: problems.length ? problems : ['extension tests: no results file was written'] };
  }
  const r = JSON.parse(readFileSync(resultsFile, 'utf8'));
  const failures = r.failures.map((f) => `${f.title}: ${f.message}`);
  // An exit code or crash that the suite's own counts do not explain is one more failure.
  const unexplained = r.failed === 0 ? problems : [];
  return { passed: r.passed, failed: r.failed + unexplained.length, failures: [...failures, ...unexplained] };
}

/** Follows a growing text file, printing complete lines. */
function tailFile(file, print) {
  let offset = 0;
  let partial = '';
  const flush = () => {
    if (!existsSync(file)) return;
    const size = statSync(file).size;
    if (size <= offset) return;
    const text = partial + readFileSync(file).subarray(offset, size).toString('utf8');
    offset = size;
    const lines = text.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) print(line);
  };
  const timer = setInterval(flush, 200);
  return {
    flush,
    stop() {
      clearInterval(timer);
      flush();
      if (partial) print(partial);
      partial = '';
    },
  };
}
