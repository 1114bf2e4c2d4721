// What the backend server does for each request. Long work (training, inspect, export) runs in
// `lily` CLI processes; the rest (reading a model's layers, validating a config) is quick and
// runs here, with parsed models cached.
import { positionLimit } from '../onnx/positionLimit';
import * as fs from 'fs';
import * as ort from 'onnxruntime-node';
import { hiddenLinearWeights } from '../adapters/fusedOps';
import { findLinearLayers, listTargetGroups } from '../adapters/targets';
import { proposeHeadModules } from '../adapters/classifierHead';
import { validateConfigText } from '../config/validate';
import type { LilyConfig } from '../config/types';
import { cudaProviderInstalled } from '../onnx/session';
import {
  PROTOCOL_VERSION, type BudgetParams, type BudgetResult, type MemoryParams, type MemoryResult, type ExportParams, type ExportResult,
  type InitializeParams, type InitializeResult, type InspectParams, type InspectResult, type ListTargetsParams,
  type ListTargetsResult, type StopParams, type StopResult, type TrainParams, type TrainResult,
  type ValidateConfigParams, type ValidateConfigResult,
} from '../protocol';
import * as path from 'path';
import { RUN_FILES, type RouterStats, type SpectrumReport } from '../runFiles';
import { budgetOf } from './budgetOf';
import { runCliJson, type Cancellable } from './cliJson';
import { ModelCache } from './modelCache';
import { findPackageRoot, lilyCliPath, packageVersion } from './paths';
import { semanticDiagnostics } from './semanticChecks';
import { UserFacingError } from './startFailure';
import { TrainProcesses, type Notifier } from './trainProcesses';

export class LilyServer {
  private readonly models = new ModelCache();
  private readonly root = findPackageRoot();
  readonly runs: TrainProcesses;

  constructor(notifier: Notifier, private readonly cwd: string) {
    this.runs = new TrainProcesses(notifier, () => lilyCliPath(this.root), cwd);
  }

  initialize(p: InitializeParams): InitializeResult {
    if (p.protocolVersion !== PROTOCOL_VERSION) {
      console.error(`client ${p.clientName} speaks protocol ${p.protocolVersion}, this server ${PROTOCOL_VERSION}`);
    }
    return { version: packageVersion(this.root), protocolVersion: PROTOCOL_VERSION, providers: availableProviders() };
  }

  listTargets(p: ListTargetsParams): ListTargetsResult {
    const model = this.models.get(this.abs(p.modelPath));
    const positions = positionLimit(model)?.maxPositions;
    const hidden = hiddenLinearWeights(model);
    const heads = proposeHeadModules(model, findLinearLayers(model));
    return {
      targets: listTargetGroups(model),
      ...(positions !== undefined ? { maxPositions: positions } : {}),
      ...(hidden.length ? { hidden } : {}),
      ...(heads.length ? { headModules: heads } : {}),
    };
  }

  validateConfig(p: ValidateConfigParams): ValidateConfigResult {
    const configPath = this.abs(p.configPath);
    const text = p.text ?? readConfigText(configPath);
    const diagnostics = validateConfigText(text, configPath);
    let config: unknown;
    try {
      config = JSON.parse(text);
    } catch {
      return { diagnostics }; // a syntax error: validateConfigText reported it
    }
    // Model and target checks run beside schema errors elsewhere, so every problem shows at once.
    return { diagnostics: [...diagnostics, ...semanticDiagnostics(config, configPath, this.models, diagnostics)] };
  }

  budget(p: BudgetParams): BudgetResult {
    const configPath = this.abs(p.configPath);
    const text = p.text ?? readConfigText(configPath);
    // Only the model and the adapter decide the budget: a missing data file does not hide it.
    const errors = validateConfigText(text, configPath)
      .filter((d) => d.severity === 'error' && (d.path.length === 0 || d.path[0] === 'model' || d.path[0] === 'adapter'));
    if (errors.length > 0) {
      // Messages start with their field path already.
      throw new UserFacingError(`${errors[0].message} (fix it to see the budget)`);
    }
    const config = JSON.parse(text) as LilyConfig;
    const modelPath = path.resolve(path.dirname(configPath), config.model.path);
    return budgetOf(this.models.get(modelPath), config.adapter);
  }

  /**
   * The training step's expected peak memory: `lily train CONFIG --dry-run --json` in its own
   * process (building the step of a large model takes memory the server should not keep). Its
   * exit code 2 means "does not fit", which is an answer here, not a failure.
   */
  async memory(p: MemoryParams, token?: Cancellable): Promise<MemoryResult> {
    const out = await runCliJson<MemoryResult & { event: string }>(lilyCliPath(this.root), ['train', this.abs(p.configPath), '--dry-run', '--json'], this.cwd, token, { okExitCodes: [0, 2] });
    if (out.event !== 'memory') throw new UserFacingError(`lily train --dry-run printed no estimate for ${p.configPath}`);
    const { event: _event, ...result } = out;
    return result;
  }

  train(p: TrainParams): Promise<TrainResult> {
    return this.runs.start(p);
  }

  stop(p: StopParams): StopResult {
    return this.runs.stop(p.runDir);
  }

  inspect(p: InspectParams, token?: Cancellable): Promise<InspectResult> {
    // A run directory already holds the inspection of its last evaluation (the trainer writes
    // spectrum.json and router_stats.json): answer from it without starting a process. Other
    // references, or adapter folders, need `lily inspect`.
    const target = this.abs(p.path);
    if (!p.reference) {
      const spectrum = readJsonFile<SpectrumReport>(path.join(target, RUN_FILES.spectrum));
      if (spectrum) {
        const routerStats = readJsonFile<RouterStats>(path.join(target, RUN_FILES.routerStats));
        return Promise.resolve({ spectrum, ...(routerStats ? { routerStats } : {}) });
      }
    }
    const args = ['inspect', target, '--json'];
    if (p.reference) args.push('--reference', this.abs(p.reference));
    return runCliJson<InspectResult>(lilyCliPath(this.root), args, this.cwd, token);
  }

  export(p: ExportParams, token?: Cancellable): Promise<ExportResult> {
    const args = ['export', this.abs(p.runDir), '--format', p.format, '--json'];
    if (p.out) args.push('--out', this.abs(p.out));
    return runCliJson<ExportResult>(lilyCliPath(this.root), args, this.cwd, token);
  }

  /**
   * The server is going away (the host asked, or disconnected: a window reload or close). Runs
   * keep training in their own detached processes; the next server, or the CLI, finds them
   * through their run directories and can stop them by pid.
   */
  shutdown(): void {
    const left = this.runs.runDirs();
    if (left.length > 0) console.error(`lily server ${process.pid} exiting; ${left.length} run(s) keep training: ${left.join(', ')}`);
  }

  private abs(p: string): string {
    if (typeof p !== 'string' || p === '') throw new Error('a path parameter is missing or empty');
    return path.resolve(this.cwd, p);
  }
}

function readJsonFile<T>(file: string): T | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

function readConfigText(configPath: string): string {
  try {
    return fs.readFileSync(configPath, 'utf8');
  } catch (e) {
    throw new Error(`cannot read config ${configPath}: ${(e as Error).message}`);
  }
}

/** Providers present in this installation: the bundled ones (cpu, webgpu), plus CUDA when its library is installed. Whether a GPU is usable is found out when a run starts its session. */
function availableProviders(): string[] {
  return ort.listSupportedBackends()
    .filter((b) => b.bundled || (b.name === 'cuda' && cudaProviderInstalled()))
    .map((b) => b.name);
}
