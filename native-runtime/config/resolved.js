"use strict";
var __createBinding = (this && this.__createBinding) || (Object.create ? (function(o, m, k, k2) {
    if (k2 === undefined) k2 = k;
    var desc = Object.getOwnPropertyDescriptor(m, k);
    if (!desc || ("get" in desc ? !m.__esModule : desc.writable || desc.configurable)) {
      desc = { enumerable: true, get: function() { return m[k]; } };
    }
    Object.defineProperty(o, k2, desc);
}) : (function(o, m, k, k2) {
    if (k2 === undefined) k2 = k;
    o[k2] = m[k];
}));
var __setModuleDefault = (this && this.__setModuleDefault) || (Object.create ? (function(o, v) {
    Object.defineProperty(o, "default", { enumerable: true, value: v });
}) : function(o, v) {
    o["default"] = v;
});
var __importStar = (this && this.__importStar) || (function () {
    var ownKeys = function(o) {
        ownKeys = Object.getOwnPropertyNames || function (o) {
            var ar = [];
            for (var k in o) if (Object.prototype.hasOwnProperty.call(o, k)) ar[ar.length] = k;
            return ar;
        };
        return ownKeys(o);
    };
    return function (mod) {
        if (mod && mod.__esModule) return mod;
        var result = {};
        if (mod != null) for (var k = ownKeys(mod), i = 0; i < k.length; i++) if (k[i] !== "default") __createBinding(result, mod, k[i]);
        __setModuleDefault(result, mod);
        return result;
    };
})();
Object.defineProperty(exports, "__esModule", { value: true });
exports.DEFAULTS = void 0;
exports.defaultBuckets = defaultBuckets;
exports.formatFromExtension = formatFromExtension;
exports.formatOfPath = formatOfPath;
exports.nameFromConfigPath = nameFromConfigPath;
exports.resolveConfig = resolveConfig;
exports.resolveDivergence = resolveDivergence;
// The resolved config: every default filled in and every path absolute. Training, inspection and
// the run directory's config.json all work from this shape, so no other module repeats a default.
// The static defaults here must equal the `@default` tags in types.ts (which become `default` in
// the JSON Schema and VS Code's completions); test/config/resolve.test.ts checks they agree.
const fs = __importStar(require("fs"));
const path = __importStar(require("path"));
/** Static defaults, by section. Kept in one place so the schema-agreement test can read them. */
exports.DEFAULTS = {
    data: { text_field: 'text', label_field: 'label', max_length: 128, padding: 'max_length', packing: false },
    lily: { r: 32, stride_A: 1, num_B: 2, scaling: 1, routing: 'batch' },
    lora: { r: 8 },
    adapter: { init: 'default' },
    training: {
        epochs: 1,
        batch_size: 16,
        lr: 1e-3,
        weight_decay: 0,
        optimizer: 'adamw',
        betas: [0.9, 0.999],
        eps: 1e-8,
        momentum: 0.9,
        schedule: 'linear',
        warmup_steps: 0,
        max_grad_norm: 1,
        gradient_checkpointing: false,
        seed: 42,
        shuffle: true,
        log_every: 10,
    },
    divergence: { loss_factor: 100, grad_norm_limit: 1e6, param_limit: 1e4 },
    runtime: { device: 'auto', backend: 'onnx', processes: 1 },
    output: { dir: '.lily/runs' },
};
/** 1/4, 1/2 and all of `maxLength`, rounded up to multiples of 8, without repeats. */
function defaultBuckets(maxLength) {
    const up8 = (n) => Math.min(maxLength, Math.ceil(n / 8) * 8);
    return [...new Set([up8(maxLength / 4), up8(maxLength / 2), maxLength])].sort((x, y) => x - y);
}
/** The data format a file extension implies, or undefined when it implies none. */
function formatFromExtension(file) {
    const ext = path.extname(file).toLowerCase();
    if (ext === '.jsonl' || ext === '.ndjson')
        return 'jsonl';
    if (ext === '.csv')
        return 'csv';
    if (ext === '.parquet')
        return 'parquet';
    if (ext === '.arrow')
        return 'arrow';
    return undefined;
}
/** The format of a data path: its extension's, else `arrow` for a folder (datasets.save_to_disk). */
function formatOfPath(file) {
    const byExt = formatFromExtension(file);
    if (byExt)
        return byExt;
    try {
        return fs.statSync(file).isDirectory() ? 'arrow' : undefined;
    }
    catch {
        return undefined;
    }
}
/** The torch backend's model is a Hugging Face folder unless the path names an `.onnx` file. */
function isModelFolder(config) {
    return config.runtime?.backend === 'torch' && path.extname(config.model.path).toLowerCase() !== '.onnx';
}
/** Display name of a config file when it has no `name`: `sentiment.lily.json` -> `sentiment`. */
function nameFromConfigPath(configPath) {
    return path.basename(configPath).replace(/(\.lily)?\.jsonc?$/i, '');
}
/**
 * Fills defaults and makes paths absolute. Expects a config that passed validation: it does not
 * check anything (validate.ts does), so an invalid config gives an unspecified result.
 * `cwd` anchors `output.dir` (the workspace folder in VS Code, the shell's folder for the CLI).
 */
function resolveConfig(config, configPath, cwd = process.cwd()) {
    const absConfig = path.resolve(configPath);
    const configDir = path.dirname(absConfig);
    const fromConfig = (p) => path.resolve(configDir, p);
    const modelPath = fromConfig(config.model.path);
    const model = {
        ...config.model,
        path: modelPath,
        tokenizer: config.model.tokenizer !== undefined
            ? fromConfig(config.model.tokenizer)
            : path.join(isModelFolder(config) ? modelPath : path.dirname(modelPath), 'tokenizer.json'),
    };
    const d = config.data;
    const data = {
        ...d,
        train: fromConfig(d.train),
        eval: d.eval !== undefined ? fromConfig(d.eval) : undefined,
        format: d.format ?? formatOfPath(fromConfig(d.train)) ?? 'jsonl',
        eval_format: d.eval !== undefined ? d.format ?? formatOfPath(fromConfig(d.eval)) ?? 'jsonl' : undefined,
        text_field: d.text_field ?? exports.DEFAULTS.data.text_field,
        label_field: d.label_field ?? exports.DEFAULTS.data.label_field,
        max_length: d.max_length ?? exports.DEFAULTS.data.max_length,
        ...(d.max_length === undefined ? { max_length_default: true } : {}),
        padding: d.padding ?? exports.DEFAULTS.data.padding,
        packing: d.packing ?? exports.DEFAULTS.data.packing,
    };
    if (data.padding === 'buckets')
        data.buckets = d.buckets ? [...d.buckets].sort((x, y) => x - y) : defaultBuckets(data.max_length);
    else
        delete data.buckets;
    if (data.eval === undefined) {
        delete data.eval;
        delete data.eval_format;
    }
    const a = config.adapter;
    const common = {
        target_modules: a.target_modules,
        ...(a.exclude_modules !== undefined ? { exclude_modules: a.exclude_modules } : {}),
        ...(a.layers_to_transform !== undefined ? { layers_to_transform: a.layers_to_transform } : {}),
        modules_to_save: a.modules_to_save ?? [],
        init: resolveInit(a.init, fromConfig),
    };
    let adapter;
    if (a.method === 'lily') {
        adapter = {
            ...common,
            method: 'lily',
            r: a.r ?? exports.DEFAULTS.lily.r,
            stride_A: a.stride_A ?? exports.DEFAULTS.lily.stride_A,
            num_B: a.num_B ?? exports.DEFAULTS.lily.num_B,
            scaling: a.scaling ?? exports.DEFAULTS.lily.scaling,
            routing: a.routing ?? exports.DEFAULTS.lily.routing,
        };
    }
    else {
        const r = a.r ?? exports.DEFAULTS.lora.r;
        adapter = { ...common, method: 'lora', r, lora_alpha: a.lora_alpha ?? r };
    }
    const training = {
        ...exports.DEFAULTS.training, betas: [...exports.DEFAULTS.training.betas], ...stripUndefined(config.training ?? {}),
        divergence: resolveDivergence(config.training?.divergence),
    };
    const runtime = { ...exports.DEFAULTS.runtime, ...stripUndefined(config.runtime ?? {}) };
    const output = { dir: path.resolve(cwd, config.output?.dir ?? exports.DEFAULTS.output.dir) };
    return {
        configPath: absConfig,
        configDir,
        name: config.name ?? nameFromConfigPath(absConfig),
        ...(config.$schema !== undefined ? { $schema: config.$schema } : {}),
        model,
        data,
        adapter,
        training,
        runtime,
        output,
    };
}
/** Divergence limits with defaults; also for a run's config.json written before they existed. */
function resolveDivergence(d) {
    return { ...exports.DEFAULTS.divergence, ...stripUndefined(d ?? {}) };
}
/** `init` as an absolute path to the safetensors file (a folder means its adapter_model.safetensors). */
function resolveInit(init, fromConfig) {
    if (init === undefined || init === 'default')
        return 'default';
    const abs = fromConfig(init);
    return abs.toLowerCase().endsWith('.safetensors') ? abs : path.join(abs, 'adapter_model.safetensors');
}
function stripUndefined(o) {
    return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}
//# sourceMappingURL=resolved.js.map