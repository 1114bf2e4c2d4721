// The server's JSON-RPC reader: LSP-style framing (`Content-Length: N\r\n\r\n` + N bytes of
// JSON) checked strictly, with the JSON-RPC 2.0 answers vscode-jsonrpc's own reader does not
// give. Its reader went deaf on a bad frame: a missing or invalid Content-Length (`abc`, `-5`),
// malformed JSON, `[]` or a request without `method` got no reply and no log, and the process
// stayed alive, so the extension's restart policy (which reacts to an exit) never took over.
//   - malformed JSON in a well-framed message: -32700 Parse error (id null); the stream goes on.
//   - params given as an array (every method here takes named fields): -32602 Invalid params.
//   - valid JSON that is not a request object (an array/batch, a number, no `method`, wrong
//     `jsonrpc`): -32600 Invalid Request, with the request's id when it has a valid one.
//   - broken framing (no or bad Content-Length, a header without end): the position of the next
//     message is lost, so the stream cannot be trusted again: -32700 (id null), a log line on
//     stderr, and `onFatal`, on which the server exits non-zero.
// Valid messages go on to vscode-jsonrpc's connection unchanged.
import { AbstractMessageReader, type DataCallback, type Disposable, type Message, type MessageWriter } from 'vscode-jsonrpc/node';

export const RPC_ERRORS = { parse: -32700, invalidRequest: -32600, methodNotFound: -32601, invalidParams: -32602 } as const;

/** A header block longer than this without its blank line is not a JSON-RPC stream. */
const MAX_HEADER_BYTES = 8192;
const HEADER_END = Buffer.from('\r\n\r\n');

type Id = string | number | null;

export class ValidatingMessageReader extends AbstractMessageReader {
  private buffer: Buffer = Buffer.alloc(0);
  private bodyLength: number | undefined;
  private fatal = false;

  constructor(
    private readonly input: NodeJS.ReadableStream,
    private readonly writer: MessageWriter,
    private readonly onFatal: (reason: string) => void,
    private readonly log: (message: string) => void = (m) => console.error(m),
  ) {
    super();
  }

  listen(callback: DataCallback): Disposable {
    const onData = (chunk: Buffer | string) => this.onData(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk, callback);
    const onEnd = () => this.fireClose();
    const onError = (e: Error) => this.fireError(e);
    this.input.on('data', onData);
    this.input.on('end', onEnd);
    this.input.on('error', onError);
    return { dispose: () => { this.input.off('data', onData); this.input.off('end', onEnd); this.input.off('error', onError); } };
  }

  private onData(chunk: Buffer, callback: DataCallback): void {
    if (this.fatal) return;
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    for (;;) {
      if (this.bodyLength === undefined) {
        const end = this.buffer.indexOf(HEADER_END);
        if (end < 0) {
          if (this.buffer.length > MAX_HEADER_BYTES) this.fail(`no end of the header block after ${MAX_HEADER_BYTES} bytes`);
          return;
        }
        const length = contentLength(this.buffer.subarray(0, end).toString('ascii'));
        if (typeof length === 'string') { this.fail(length); return; }
        this.bodyLength = length;
        this.buffer = this.buffer.subarray(end + HEADER_END.length);
      }
      if (this.buffer.length < this.bodyLength) return;
      const body = this.buffer.subarray(0, this.bodyLength).toString('utf8');
      this.buffer = this.buffer.subarray(this.bodyLength);
      this.bodyLength = undefined;
      const message = this.check(body);
      if (message) callback(message);
    }
  }

  /** The message when it is a valid JSON-RPC 2.0 request, notification or response; else answers it. */
  private check(body: string): Message | undefined {
    let value: unknown;
    try {
      value = JSON.parse(body);
    } catch (e) {
      this.reply(null, RPC_ERRORS.parse, `Parse error: the message is not valid JSON (${(e as Error).message})`);
      return undefined;
    }
    if (Array.isArray(value)) {
      this.reply(null, RPC_ERRORS.invalidRequest, 'Invalid Request: batches (JSON arrays) are not supported; send one request object per message');
      return undefined;
    }
    if (!value || typeof value !== 'object') {
      this.reply(null, RPC_ERRORS.invalidRequest, `Invalid Request: expected a request object, got ${value === null ? 'null' : typeof value}`);
      return undefined;
    }
    const m = value as Record<string, unknown>;
    const idValid = m.id === undefined || m.id === null || typeof m.id === 'string' || (typeof m.id === 'number' && Number.isFinite(m.id));
    const id: Id = idValid && m.id !== undefined ? m.id as Id : null;
    const problem = requestProblem(m, idValid);
    if (problem) {
      this.reply(id, RPC_ERRORS.invalidRequest, `Invalid Request: ${problem}`);
      return undefined;
    }
    if (Array.isArray(m.params)) {
      // Every method here takes named fields; vscode-jsonrpc would spread an array into
      // positional arguments, and the handler would see a lone string or number.
      this.reply(id, RPC_ERRORS.invalidParams, `Invalid params: ${String(m.method)} takes its params as an object with named fields, not an array`);
      return undefined;
    }
    return m as unknown as Message;
  }

  private fail(reason: string): void {
    this.fatal = true;
    const text = `lily server: unreadable JSON-RPC stream (${reason}); the next message cannot be found, so the server exits and the client restarts it`;
    this.log(text);
    // Exit only once the answer is on its way (the writer queues asynchronously).
    void this.reply(null, RPC_ERRORS.parse, `Parse error: ${reason}`).then(() => this.onFatal(reason));
  }

  private reply(id: Id, code: number, message: string): Promise<void> {
    return this.writer.write({ jsonrpc: '2.0', id, error: { code, message } } as Message).catch(() => undefined);
  }
}

/** Content-Length from a header block, or why it is unusable. */
function contentLength(headers: string): number | string {
  let length: number | string = 'the header has no Content-Length';
  for (const line of headers.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) return `header line "${line.slice(0, 60)}" is not "Name: value"`;
    if (line.slice(0, colon).trim().toLowerCase() !== 'content-length') continue;
    const v = line.slice(colon + 1).trim();
    length = /^\d{1,10}$/.test(v) ? Number(v) : `Content-Length "${v.slice(0, 40)}" is not a non-negative integer`;
  }
  return length;
}

function requestProblem(m: Record<string, unknown>, idValid: boolean): string | undefined {
  if (m.jsonrpc !== '2.0') return `"jsonrpc" must be "2.0", got ${JSON.stringify(m.jsonrpc) ?? 'nothing'}`;
  if (!idValid) return '"id" must be a string, a number or null';
  if (m.method === undefined) {
    // A response to a request of ours (the server sends none today, but the protocol allows it).
    if (m.id !== undefined && ('result' in m || 'error' in m)) return undefined;
    return 'no "method"';
  }
  if (typeof m.method !== 'string') return `"method" must be a string, got ${typeof m.method}`;
  if (m.params !== undefined && (m.params === null || typeof m.params !== 'object')) return `"params" must be an object or an array, got ${m.params === null ? 'null' : typeof m.params}`;
  return undefined;
}
