"use strict";
// The run directory: the contract between the backend (which writes it, atomically) and the
// extension and dashboard (which read and watch it). These types are shared by all three;
// ARCHITECTURE.md documents the layout. Field names are snake_case because they are files
// users read and tools outside this project parse.
//
//   <output.dir>/<run-id>/
//     config.json          the resolved config (defaults filled in, paths absolute;
//                          training.max_steps is the run's effective total, which a resume keeps)
//     status.json          RunStatus, rewritten atomically on every change
//     metrics.jsonl        one MetricLine per logged step / evaluation (append-only)
//     router.jsonl         one RouterLine per logged step (append-only)
//     router_stats.json    RouterStats over the reference set, at each evaluation
//     spectrum.json        SpectrumReport, at each evaluation
//     checkpoints/step-<N>/  trainer state (adapter tensors, optimizer, data position, rng, the
//                          unfinished logging window); resuming from step N removes newer ones
//     .lock                held by the one process writing the run (pid + start time; io/runLock.ts)
//     adapter/             at the end: PEFT format (adapter_config.json + adapter_model.safetensors)
//                          and adapter.lily.safetensors (each shared tensor stored once)
Object.defineProperty(exports, "__esModule", { value: true });
exports.RUN_FILES = void 0;
exports.RUN_FILES = {
    config: 'config.json',
    status: 'status.json',
    metrics: 'metrics.jsonl',
    router: 'router.jsonl',
    routerStats: 'router_stats.json',
    spectrum: 'spectrum.json',
    checkpoints: 'checkpoints',
    adapter: 'adapter',
    /** The one-writer lock (io/runLock.ts): present while a process writes the run. */
    lock: '.lock',
    /** SweepMember: present when `lily sweep` started the run as one point of a grid. */
    sweep: 'sweep.json',
};
//# sourceMappingURL=runFiles.js.map