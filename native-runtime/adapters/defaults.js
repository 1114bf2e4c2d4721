"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.resolveAdapterConfig = resolveAdapterConfig;
// The adapter section with PEFT's defaults filled in and PEFT's checks applied. The default
// values come from config/resolved.ts (one place for every default); this adds the checks, so
// callers holding a raw section (tests, the budget command) get the same result as the trainer.
const resolved_1 = require("../config/resolved");
function positiveInt(value, field, min) {
    if (!Number.isInteger(value) || value < min) {
        throw new Error(`adapter.${field}: expected an integer >= ${min}, got ${JSON.stringify(value)}; fix it in the config's "adapter" section`);
    }
    return value;
}
function resolveAdapterConfig(cfg) {
    const common = {
        target_modules: cfg.target_modules,
        exclude_modules: cfg.exclude_modules,
        layers_to_transform: cfg.layers_to_transform,
        modules_to_save: cfg.modules_to_save ?? [],
    };
    if (cfg.method === 'lily') {
        const scaling = cfg.scaling ?? resolved_1.DEFAULTS.lily.scaling;
        if (!Number.isFinite(scaling))
            throw new Error(`adapter.scaling: expected a finite number, got ${JSON.stringify(cfg.scaling)}`);
        const routing = cfg.routing ?? resolved_1.DEFAULTS.lily.routing;
        if (!['batch', 'masked', 'token'].includes(routing))
            throw new Error(`adapter.routing: expected "batch", "masked" or "token", got ${JSON.stringify(routing)}`);
        return {
            ...common,
            method: 'lily',
            r: positiveInt(cfg.r ?? resolved_1.DEFAULTS.lily.r, 'r', 1),
            stride_A: positiveInt(cfg.stride_A ?? resolved_1.DEFAULTS.lily.stride_A, 'stride_A', 1),
            num_B: positiveInt(cfg.num_B ?? resolved_1.DEFAULTS.lily.num_B, 'num_B', 2),
            scaling,
            routing,
        };
    }
    if (cfg.method === 'lora') {
        const r = positiveInt(cfg.r ?? resolved_1.DEFAULTS.lora.r, 'r', 1);
        const alpha = cfg.lora_alpha ?? r;
        if (!Number.isFinite(alpha))
            throw new Error(`adapter.lora_alpha: expected a finite number, got ${JSON.stringify(cfg.lora_alpha)}`);
        return { ...common, method: 'lora', r, lora_alpha: alpha };
    }
    throw new Error(`adapter.method: expected "lily" or "lora", got ${JSON.stringify(cfg.method)}`);
}
//# sourceMappingURL=defaults.js.map