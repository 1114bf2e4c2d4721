// data.max_length against the model's position table (onnx/positionLimit.ts): a longer setting
// is invalid input named by its field (exit 2) instead of an onnxruntime shape error; an unset
// one defaults to min(128, the model's limit), and the run says so.
import type { ResolvedConfig } from '../config/resolved';
import { ConfigError } from '../config/validate';
import type { Model } from '../onnx/ir';
import { positionLimit } from '../onnx/positionLimit';

export function fitMaxLength(cfg: ResolvedConfig, model: Model, log: (m: string) => void = () => undefined): ResolvedConfig {
  const limit = positionLimit(model);
  if (!limit || cfg.data.max_length <= limit.maxPositions) return cfg;
  if (!cfg.data.max_length_default) {
    throw new ConfigError(cfg.configPath, [{
      path: ['data', 'max_length'], severity: 'error',
      message: `data.max_length: ${cfg.data.max_length} is longer than the model takes: ${cfg.model.path} has ${limit.maxPositions} positions (${limit.table}); set data.max_length to at most ${limit.maxPositions}`,
    }]);
  }
  log(`data.max_length is not set: using ${limit.maxPositions}, the model's number of positions (${limit.table}), instead of the default ${cfg.data.max_length}`);
  return { ...cfg, data: { ...cfg.data, max_length: limit.maxPositions } };
}
