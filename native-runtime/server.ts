// The Lily backend server: JSON-RPC 2.0 over stdio (vscode-jsonrpc framing), spawned by the
// VS Code extension host (src/backend.ts). stdout carries only the protocol; every log goes to
// stderr, which the host shows in its "Lily" output channel. No vscode import: this runs in
// plain Node. Training, inspection and export run in their own `lily` CLI processes, because
// onnxruntime's session.run blocks the event loop and the server must keep answering.
import { createMessageConnection, StreamMessageWriter } from 'vscode-jsonrpc/node';
import { registerHandlers } from './server/handlers';
import { LilyServer } from './server/lilyServer';
import { ValidatingMessageReader } from './server/rpcReader';

export function main(): void {
  // Libraries that print with console.log would corrupt the protocol stream: send it to stderr.
  console.log = console.error;
  console.info = console.error;
  console.debug = console.error;

  const writer = new StreamMessageWriter(process.stdout);
  // A broken frame leaves the stream unreadable: exit non-zero, so the host's restart policy
  // starts a fresh server (a live but deaf one would never be restarted).
  const reader = new ValidatingMessageReader(process.stdin, writer, () => exit(1));
  const connection = createMessageConnection(reader, writer);
  const server = new LilyServer({ notify: (method, params) => void connection.sendNotification(method, params) }, process.cwd());
  let exiting = false;
  const exit = (code: number) => {
    if (exiting) return;
    exiting = true;
    server.shutdown();
    // Exit once everything written so far (the shutdown reply) has left stdout.
    process.stdout.write('', () => process.exit(code));
  };
  registerHandlers(connection, server, () => exit(0));
  // The host went away (window reload or close, extension host crash): exit, leaving training
  // runs to finish on their own (trainProcesses.ts says why).
  connection.onClose(() => exit(0));
  process.stdin.on('end', () => exit(0));
  for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => exit(0));
  connection.listen();
  console.error(`lily server ${process.pid} listening on stdio (cwd ${process.cwd()})`);
}

if (require.main === module) main();
