// Binds each protocol method to the server. Errors become JSON-RPC errors whose message is the
// user-facing text (it names the file, the field, and what to do), without the stack.
import { ResponseError, type CancellationToken, type MessageConnection } from 'vscode-jsonrpc/node';
import {
  Methods, type BudgetParams, type MemoryParams, type ExportParams, type InitializeParams, type InspectParams,
  type ListTargetsParams, type StopParams, type TrainParams, type ValidateConfigParams,
} from '../protocol';
import type { LilyServer } from './lilyServer';
import { isInputError } from '../errors';
import { paramsProblem } from './paramCheck';
import { RPC_ERRORS } from './rpcReader';
import { isUserFacing } from './startFailure';

/** JSON-RPC error code for "the request was understood but failed" (server-defined range). */
export const LILY_ERROR = -32001;

type Handler = (params: any, token: CancellationToken) => unknown;

export function registerHandlers(connection: MessageConnection, server: LilyServer, onShutdown: () => void): void {
  const table: Record<string, Handler> = {
    [Methods.initialize]: (p: InitializeParams) => server.initialize(p),
    [Methods.listTargets]: (p: ListTargetsParams) => server.listTargets(p),
    [Methods.validateConfig]: (p: ValidateConfigParams) => server.validateConfig(p),
    [Methods.budget]: (p: BudgetParams) => server.budget(p),
    [Methods.memory]: (p: MemoryParams, t) => server.memory(p, t),
    [Methods.train]: (p: TrainParams) => server.train(p),
    [Methods.stop]: (p: StopParams) => server.stop(p),
    [Methods.inspect]: (p: InspectParams, t) => server.inspect(p, t),
    [Methods.export]: (p: ExportParams, t) => server.export(p, t),
    [Methods.shutdown]: () => {
      // Answer, then exit when the host closes our stdin (the reply is written asynchronously,
      // after this returns); exit anyway if the host does not close it soon.
      setTimeout(onShutdown, 2000);
      return null;
    },
  };
  for (const [method, handler] of Object.entries(table)) {
    connection.onRequest(method, async (params: unknown, token: CancellationToken) => {
      const problem = paramsProblem(method, params);
      if (problem) {
        console.error(`${method} refused: ${problem}`);
        throw new ResponseError(RPC_ERRORS.invalidParams, `Invalid params: ${problem}`);
      }
      try {
        return await handler(params ?? {}, token);
      } catch (e) {
        const err = e as Error;
        // A user-facing error (invalid input, named file and field) needs no stack in the log.
        console.error(`${method} failed: ${isUserFacing(e) || isInputError(e) ? err.message : err.stack ?? err.message}`);
        throw new ResponseError(LILY_ERROR, err.message ?? String(e));
      }
    });
  }
}
