// A JSON-RPC server that never goes deaf (issue 13, item 4). The real server process gets raw
// bytes on stdin: a bad Content-Length (`abc`, `-5`, none) used to leave it alive, silent and
// never restarted; malformed JSON, `[]` and a request without `method` got no reply; a number
// where a path belongs got `text.charCodeAt is not a function`-style internals. Now: JSON-RPC 2.0
// errors (-32700, -32600, -32602), and an exit on a stream it cannot resynchronise, after which
// the extension's supervisor restarts it.
import * as assert from 'assert';
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { BackendSupervisor } from '../../src/backendProcess';
import { Methods } from '../../native-runtime/protocol';
import { configFixture, serverLaunch } from '../extension/fixtures';
import { lily } from '../cli/workspace';
import { recordBadInput, recordFault } from './ledger';

const frame = (body: string) => `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

interface Reply { id: unknown; error?: { code: number; message: string }; result?: unknown }

/** Starts the server, writes `input`, collects replies until `replies` arrived or it exited. */
async function talk(input: string[], replies: number): Promise<{ replies: Reply[]; exitCode: number | null | 'alive'; stderr: string }> {
  const launch = serverLaunch(process.cwd());
  const child = spawn(launch.command, launch.args, { env: launch.env, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let stderr = '';
  const got: Reply[] = [];
  let wake = () => undefined as void;
  child.stdout.on('data', (d) => {
    out += d;
    for (;;) {
      const m = /^Content-Length: (\d+)\r\n\r\n/.exec(out);
      if (!m || out.length < m[0].length + Number(m[1])) break;
      got.push(JSON.parse(out.slice(m[0].length, m[0].length + Number(m[1]))) as Reply);
      out = out.slice(m[0].length + Number(m[1]));
    }
    wake();
  });
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => { resolve(c); wake(); }));
  for (const chunk of input) child.stdin.write(chunk);
  // Wait (event-driven, no timer) for the expected replies or the exit.
  let exitCode: number | null | 'alive' = 'alive';
  void exited.then((c) => { exitCode = c; });
  while (got.length < replies && exitCode === 'alive') await new Promise<void>((r) => { wake = r; });
  if (exitCode === 'alive') {
    child.stdin.end();
    await exited;
    return { replies: got, exitCode: 'alive', stderr };
  }
  return { replies: got, exitCode, stderr };
}

describe('reliability: the JSON-RPC server', function () {
  this.timeout(60000);

  it('answers malformed JSON (-32700), [] and requests without method or with bad fields (-32600), wrong param types (-32602), and keeps serving', async () => {
    const r = await talk([
      frame('{"jsonrpc":"2.0","id":1,'),
      frame('[]'),
      frame('[{"jsonrpc":"2.0","id":2,"method":"lily/initialize"}]'),
      frame('{"jsonrpc":"2.0","id":3}'),
      frame('{"jsonrpc":"1.0","id":4,"method":"lily/initialize"}'),
      frame('{"jsonrpc":"2.0","id":5,"method":7}'),
      frame('{"jsonrpc":"2.0","id":6,"method":"lily/validateConfig","params":{"configPath":5,"text":7}}'),
      frame('{"jsonrpc":"2.0","id":7,"method":"lily/validateConfig","params":["a"]}'),
      frame('{"jsonrpc":"2.0","id":8,"method":"lily/train","params":{"configPath":"x.lily.json","maxSteps":"ten"}}'),
      frame('42'),
      frame('{"jsonrpc":"2.0","id":9,"method":"lily/noSuchMethod"}'),
      frame('{"jsonrpc":"2.0","id":10,"method":"lily/initialize","params":{"clientName":"t","protocolVersion":1}}'),
    ], 12);
    // Replies may come in another order (JSON-RPC does not promise one): compare as sets.
    const key = (x: Reply) => JSON.stringify([x.id, x.error?.code ?? 'ok']);
    assert.deepStrictEqual(r.replies.map(key).sort(), [
      [null, -32700], [null, -32600], [null, -32600], [3, -32600], [4, -32600], [5, -32600],
      [6, -32602], [7, -32602], [8, -32602], [null, -32600], [9, -32601], [10, 'ok'],
    ].map((x) => JSON.stringify(x)).sort(), r.stderr);
    const byId = (id: unknown) => r.replies.find((x) => x.id === id)!.error!.message;
    assert.match(r.replies.find((x) => x.error?.code === -32700)!.error!.message, /^Parse error: the message is not valid JSON/);
    assert.match(byId(3), /^Invalid Request: no "method"/);
    assert.match(byId(6), /params\.configPath must be a string, got number/);
    assert.match(byId(7), /takes its params as an object with named fields, not an array/);
    assert.match(byId(8), /params\.maxSteps must be a number, got string/);
    for (const x of r.replies) assert.doesNotMatch(x.error?.message ?? '', /is not a function|Cannot read prop|at .*\.js:\d+/);
    assert.strictEqual(r.exitCode, 'alive', 'a well-framed bad message leaves the stream usable');
    for (const x of r.replies.filter((y) => y.error)) recordBadInput('JSON-RPC', `message answered ${x.error!.code}`, 'answered, server kept serving');
  });

  for (const [name, header] of [['Content-Length abc', 'Content-Length: abc'], ['Content-Length -5', 'Content-Length: -5'], ['no Content-Length', 'Content-Type: application/json']]) {
    it(`${name}: answers -32700, logs why and exits 1 (the stream cannot be resynchronised)`, async () => {
      const r = await talk([`${header}\r\n\r\n{"jsonrpc":"2.0","id":1,"method":"lily/initialize"}`], Infinity);
      assert.strictEqual(r.exitCode, 1, r.stderr);
      assert.deepStrictEqual(r.replies.map((x) => [x.id, x.error?.code]), [[null, -32700]]);
      recordBadInput('JSON-RPC', `broken frame: ${name}`, 'answered -32700, exit 1 for a restart');
      assert.match(r.stderr, /unreadable JSON-RPC stream \((Content-Length ".*" is not a non-negative integer|the header has no Content-Length)\); .* exits and the client restarts it/);
    });
  }

  it('the extension\'s supervisor restarts a server that got a broken frame, and the new one answers', async () => {
    const fx = configFixture();
    const sup = new BackendSupervisor(serverLaunch(fx.dir));
    try {
      const first = await sup.ready();
      first.process.stdin!.write('Content-Length: abc\r\n\r\n{}');
      while (sup.restarts.length === 0) await sup.nextStateChange();
      const second = await sup.ready();
      assert.notStrictEqual(second.process.pid, first.process.pid);
      const res = await second.connection.sendRequest(Methods.validateConfig, { configPath: fx.configPath });
      assert.ok(Array.isArray((res as { diagnostics: unknown[] }).diagnostics));
      recordFault('server stream', 'broken frame sent to a supervised server', 'restarted, new server answers');
    } finally {
      await sup.dispose();
      fs.rmSync(fx.dir, { recursive: true, force: true });
    }
  });

  it('CLI errors carry their command prefix once (no "lily train: lily train:")', async () => {
    const fx = configFixture();
    for (const args of [['train', fx.configPath, '--device', 'tpu'], ['train', fx.configPath, '--resume', fx.dir, '--run-dir', path.join(fx.dir, 'r')]]) {
      const r = await lily(args, fx.dir);
      assert.strictEqual(r.code, 2);
      assert.match(r.stderr, /^lily train: --/m);
      assert.doesNotMatch(r.stderr, /lily train: lily train:/);
    }
  });
});
