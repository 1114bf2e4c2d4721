"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.Notifications = exports.Methods = exports.PROTOCOL_VERSION = void 0;
exports.PROTOCOL_VERSION = 1;
// ---------------------------------------------------------------------------
// Requests (host -> backend)
exports.Methods = {
    /** host -> backend. Handshake; returns the backend version and available execution providers. */
    initialize: 'lily/initialize',
    /** host -> backend. Adaptable linear layers of a model, grouped by target suffix. */
    listTargets: 'lily/listTargets',
    /** host -> backend. Schema + semantic validation of a config (file on disk or given text). */
    validateConfig: 'lily/validateConfig',
    /** host -> backend. Trainable parameter count of an adapter config and the LoRA rank at the same budget. */
    budget: 'lily/budget',
    /** host -> backend. Expected peak memory of a config's training step (`lily train --dry-run`), with and without gradient checkpointing. */
    memory: 'lily/memory',
    /** host -> backend. Starts a training run in its own process; returns at once with its run dir. */
    train: 'lily/train',
    /** host -> backend. Asks a running training process to stop after writing a checkpoint. */
    stop: 'lily/stop',
    /** host -> backend. Router statistics and spectra for a run or adapter directory. */
    inspect: 'lily/inspect',
    /** host -> backend. Exports a run's adapter (PEFT, merged ONNX, adapted ONNX). */
    export: 'lily/export',
    /** host -> backend. Graceful shutdown. */
    shutdown: 'lily/shutdown',
};
// ---------------------------------------------------------------------------
// Notifications (backend -> host)
exports.Notifications = {
    /** backend -> host. A training run's progress (every logged step). */
    progress: 'lily/progress',
    /** backend -> host. A new line of metrics.jsonl. */
    metrics: 'lily/metrics',
    /** backend -> host. A new line of router.jsonl. */
    router: 'lily/router',
    /** backend -> host. A run changed state (started, completed, failed, stopped). */
    runState: 'lily/runState',
    /** backend -> host. A log line for the output channel. */
    log: 'lily/log',
};
//# sourceMappingURL=protocol.js.map