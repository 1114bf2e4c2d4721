// Building the training step (specialise, inject, loss, autodiff, optimizer) is where some
// config problems first show: masked routing on a model without an attention mask, a task whose
// loss does not fit the model's output, a module to save that does not reach the loss. Those are
// the user's to fix, so they become ConfigErrors on the config field (exit 2), not internal errors.
import { ConfigError } from '../config/validate';

interface FieldRule {
  /** Matches the builder's message. */
  pattern: RegExp;
  /** The config field it is about (from the match, for `adapter.<field>` messages). */
  field: (m: RegExpExecArray) => string[];
  /** What to check, when the builder's message does not already say. */
  hint?: string;
}

const RULES: FieldRule[] = [
  { pattern: /^adapter\.(\w+)/, field: (m) => ['adapter', m[1]] },
  { pattern: /^model\.(\w+)/, field: (m) => ['model', m[1]] },
  { pattern: /^attention-mask input/, field: () => ['adapter', 'routing'], hint: 'masked and token routing average over that input' },
  { pattern: /^initial adapter tensor/, field: () => ['adapter', 'init'] },
  { pattern: /^loss\b/, field: () => ['model', 'task'], hint: 'check that model.task matches what the model outputs (model.output)' },
  { pattern: /^model opset/, field: () => ['model', 'path'] },
  {
    pattern: /^autodiff: no gradient rule for op (com\.microsoft\.\w+)/,
    field: () => ['model', 'path'],
    hint: 'the model holds ONNX Runtime fused ops (com.microsoft contrib ops from the transformer optimizer or optimum --optimize), which the engine cannot differentiate; export the model again without that optimization (torch.onnx.export, or optimum-cli export onnx without --optimize)',
  },
  { pattern: /^optimizer: no gradient/, field: () => ['adapter', 'modules_to_save'] },
];

/** The ConfigError for an error from building the step, or undefined when it is not about the config. */
export function stepBuildConfigError(configPath: string, e: unknown): ConfigError | undefined {
  if (!(e instanceof Error) || e instanceof ConfigError) return undefined;
  for (const rule of RULES) {
    const m = rule.pattern.exec(e.message);
    if (!m) continue;
    const field = rule.field(m);
    const name = field.join('.');
    let message = e.message.startsWith(name) ? e.message : `${name}: ${e.message}`;
    if (rule.hint) message += ` (${rule.hint})`;
    return new ConfigError(configPath, [{ path: field, severity: 'error', message }]);
  }
  return undefined;
}
