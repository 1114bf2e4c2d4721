// The smaller reliability items (issue 13, item 8): invalid UTF-8 is rejected with FILE:LINE
// (the chosen policy, documented in README's Reliability section); a batch larger than the data
// set is said; a corrupt metrics.jsonl line dropped on resume is said; a signal during
// preparation exits 130 (was 143); `lily train --resume RUN` needs no config argument.
import * as assert from 'assert';
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { lily, makeWorkspace, sentimentRecords, tinyEncoder } from '../cli/workspace';
import { recordBadInput, recordFault } from './ledger';

const CLI = path.join(__dirname, '../cli/runCli.ts');

describe('reliability: smaller items', function () {
  this.timeout(120000);
  before(() => { tinyEncoder(); });

  it('invalid UTF-8 in training data: exit 2 naming FILE:LINE (policy: reject, never guess the encoding)', async () => {
    const ws = makeWorkspace({ training: { max_steps: 1 } });
    const file = path.join(ws.dir, 'train.jsonl');
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    const bad = Buffer.concat([Buffer.from('{"text": "caf'), Buffer.from([0xe9]), Buffer.from(' was good", "label": "positive"}')]); // latin-1 é
    fs.writeFileSync(file, Buffer.concat([Buffer.from(lines.slice(0, 2).join('\n') + '\n'), bad, Buffer.from('\n' + lines.slice(2).join('\n'))]));
    const r = await lily(['train', ws.config], ws.dir);
    assert.strictEqual(r.code, 2, r.stderr);
    assert.match(r.stderr, /train\.jsonl:3: not valid UTF-8 \(first bad byte at column 14\); data files must be UTF-8/);
    assert.ok(!fs.existsSync(ws.runsDir));
    recordBadInput('data', 'invalid UTF-8 byte in a JSONL line', 'exit 2, FILE:LINE');
  });

  it('batch_size larger than the data set: trains, and says every step is an epoch', async () => {
    const ws = makeWorkspace({ training: { max_steps: 2, batch_size: 64 } }, { train: 10 });
    const r = await lily(['train', ws.config], ws.dir);
    assert.strictEqual(r.code, 0, r.stderr);
    assert.match(r.stderr, /warning: training\.batch_size 64 is larger than the training set \(10 records in .*train\.jsonl\): each batch is the whole set, so every step is one epoch/);
    recordBadInput('config', 'batch_size 64 > 10 records', 'trains, with a warning');
  });

  it('a corrupt metrics.jsonl line is reported when a resume drops it; `lily train --resume RUN` needs no config argument', async () => {
    const ws = makeWorkspace({ training: { max_steps: 6, save_every: 2, log_every: 1 } });
    const runDir = path.join(ws.dir, 'run');
    assert.strictEqual((await lily(['train', ws.config, '--run-dir', runDir], ws.dir)).code, 0);
    const metrics = path.join(runDir, 'metrics.jsonl');
    const lines = fs.readFileSync(metrics, 'utf8').split('\n');
    lines.splice(2, 0, '{"type":"train","step":2,"lo');
    fs.writeFileSync(metrics, lines.join('\n'));
    // Resume from step 4 (a checkpoint: the run kept 4 and 6), without the config argument.
    const r = await lily(['train', '--resume', path.join(runDir, 'checkpoints', 'step-4')], ws.dir);
    assert.strictEqual(r.code, 0, r.stderr);
    assert.match(r.stderr, /warning: .*metrics\.jsonl line 3 is not valid JSON and is dropped: "\{\\"type\\":\\"train\\",\\"step\\":2,\\"lo"/);
    const again = await lily(['train', '--resume', runDir], ws.dir);
    assert.strictEqual(again.code, 0, again.stderr);
    const none = await lily(['train'], ws.dir);
    assert.strictEqual(none.code, 2);
    assert.match(none.stderr, /missing argument; usage: lily train <config\.lily\.json>, or lily train --resume RUN/);
    recordFault('corrupt log', 'a torn line in the middle of metrics.jsonl, then resume', 'warned, dropped, resumed');
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`${signal} during preparation exits 130 (was 143 for SIGTERM) and writes nothing`, async () => {
      // 60k records: indexing and validating them keeps preparation busy long enough to be hit.
      const ws = makeWorkspace({ training: { max_steps: 2 } });
      fs.writeFileSync(path.join(ws.dir, 'train.jsonl'), sentimentRecords(60000).map((x) => JSON.stringify(x)).join('\n') + '\n');
      const child = spawn(process.execPath, ['-r', require.resolve('tsx/cjs'), CLI, 'train', ws.config], { cwd: ws.dir, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      let sent = false;
      child.stderr.on('data', (d) => {
        stderr += d;
        if (!sent && /Preparing /.test(stderr)) { sent = true; child.kill(signal); }
      });
      const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
      assert.strictEqual(code, 130, stderr);
      assert.match(stderr, /Interrupted during preparation; nothing was written\./);
      assert.ok(!fs.existsSync(ws.runsDir), 'no run directory');
      recordFault('signal', `${signal} during preparation`, 'exit 130, nothing written');
    });
  }
});
