"""The training loop, step for step the engine's (native-runtime/train/trainer.ts): eval at step
0, the learning rate of step k from the schedule, the batch of step k from the seeded plan,
AdamW/SGD as torch.optim defines them (the engine's graphs reproduce those formulas), global-norm
clipping, logged windows of train metrics and router means, periodic eval and checkpoints, the
adapter at the end. SIGTERM/SIGINT on any rank stops every rank after the current step: a
checkpoint, the adapter so far, state `stopped` (exit 130); --resume continues exactly."""
from __future__ import annotations

import inspect
import json
import math
import os
import signal
import sys
import time

import torch

from . import routing
from .adapter_files import COMPACT_FILE, load_initial_adapter, saved_specs, write_adapter, write_compact
from .init import engine_default_init
from .data import TokenizedData, dataset_files
from .distributed import World
from .divergence import DivergenceMonitor, divergence_hint, max_abs_of
from .errors import InputError
from .losses import loss_sum_and_count
from .metrics import EvalAccumulator
from .model import adapt, lily_layers, load_model, model_source, targets_of
from .plan import BatchPlan
from .run_dir import CHECKPOINT_FILES, RunWriter, list_checkpoints, now_iso, read_json_if_valid, remove_checkpoints_after, save_checkpoint
from .schedule import learning_rate

EXIT_OK, EXIT_FAILURE, EXIT_INPUT, EXIT_STOPPED = 0, 1, 2, 130


class Events:
    """TrainEvent lines (protocol.ts) on stdout, which `lily train` relays; rank 0 only."""

    def __init__(self, enabled: bool):
        self.enabled = enabled

    def emit(self, **event) -> None:
        if self.enabled:
            sys.stdout.write(json.dumps(event, allow_nan=False, default=float) + "\n")
            sys.stdout.flush()


def _log(world: World, message: str) -> None:
    if world.is_main:
        sys.stderr.write(message + "\n")
        sys.stderr.flush()


def train(run_dir: str, resume: str | None) -> int:
    cfg_file = os.path.join(run_dir, "config.json")
    cfg = read_json_if_valid(cfg_file)
    if cfg is None:
        raise InputError(cfg_file, "", "the run's resolved config is missing or damaged; start the run with lily train --backend torch")
    config_path = cfg["configPath"]
    t = cfg["training"]
    task = cfg["model"]["task"]
    world = World(cfg["runtime"].get("device", "auto"))
    if cfg["runtime"].get("threads"):
        torch.set_num_threads(int(cfg["runtime"]["threads"]))
    if t["batch_size"] % world.size != 0:
        raise InputError(config_path, "training.batch_size", f"the global batch {t['batch_size']} does not divide among {world.size} processes")
    per_rank = t["batch_size"] // world.size

    stop = {"reason": None}

    def on_signal(signum, _frame):
        stop["reason"] = stop["reason"] or ("interrupted (SIGINT)" if signum == signal.SIGINT else "stopped (SIGTERM)")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    model = load_model(cfg, model_source(cfg, config_path), config_path)
    peft_model = adapt(model, cfg)
    targets = targets_of(peft_model, cfg)
    if cfg["adapter"].get("init", "default") != "default":
        load_initial_adapter(peft_model, cfg["adapter"]["init"], config_path)
    else:
        # The engine's seeded initialisation, so both backends start from the same adapter.
        engine_default_init(peft_model, cfg, targets)
    peft_model.to(world.device)
    named = [(n, p) for n, p in peft_model.named_parameters() if p.requires_grad]
    params = [p for _, p in named]
    world.broadcast_params(params)
    saved = saved_specs(peft_model)
    state = routing.RoutingState(world.routing_group)
    if cfg["adapter"]["method"] == "lily":
        routing.install(lily_layers(peft_model), state)
    accepted = set(inspect.signature(peft_model.get_base_model().forward).parameters)

    train_file, eval_file = dataset_files(run_dir)
    train_data = TokenizedData(train_file)
    eval_data = TokenizedData(eval_file) if eval_file else None
    plan = BatchPlan(train_data.size, t["batch_size"], t["seed"], t["shuffle"])
    spe = plan.steps_per_epoch
    total = int(t["max_steps"])
    trainable = sum(p.numel() for p in params)

    if t["optimizer"] == "adamw":
        optimizer = torch.optim.AdamW(params, lr=t["lr"], betas=tuple(t["betas"]), eps=t["eps"], weight_decay=t["weight_decay"], foreach=False)
        slots = ["exp_avg", "exp_avg_sq"]
    else:
        optimizer = torch.optim.SGD(params, lr=t["lr"], momentum=t["momentum"], weight_decay=t["weight_decay"], foreach=False)
        slots = ["momentum_buffer"] if t["momentum"] > 0 else []

    def forward(inputs: dict):
        feed = {k: v.to(world.device) for k, v in inputs.items() if k in accepted}
        return peft_model(**feed).logits

    # Resume: restore before touching any file.
    start = 0
    window = {"loss": 0.0, "steps": 0, "samples": 0, "tokens": 0, "since": time.time()}
    router = routing.RouterWindow()
    divergence_state = {}
    if resume:
        from safetensors.torch import load_file

        ck_params = load_file(os.path.join(resume, CHECKPOINT_FILES["params"]))
        ck_opt = load_file(os.path.join(resume, CHECKPOINT_FILES["optimizer"]))
        trainer_state = read_json_if_valid(os.path.join(resume, CHECKPOINT_FILES["trainer"])) or {}
        start = int(trainer_state["step"])
        total = int(trainer_state.get("total_steps", total))
        with torch.no_grad():
            for n, p in named:
                if n not in ck_params:
                    raise InputError(resume, "params.safetensors", f"tensor {n} is missing; the checkpoint belongs to another adapter")
                p.copy_(ck_params[n].to(p.device))
                if slots and start > 0:
                    st = {s: ck_opt[f"{n}.{s}"].to(p.device).clone() for s in slots}
                    if t["optimizer"] == "adamw":
                        st["step"] = torch.tensor(float(start), dtype=torch.float32)
                    optimizer.state[p] = st
        divergence_state = trainer_state.get("divergence") or {}
        lw = trainer_state.get("log_window")
        if lw:
            window = {"loss": lw["loss"], "steps": lw["steps"], "samples": lw["samples"], "tokens": lw["tokens"], "since": time.time() - lw["seconds"]}
            router.restore(lw["router"])
        _log(world, f"Resuming {run_dir} from step {start} ({os.path.relpath(resume, run_dir)})")

    writer = RunWriter(run_dir) if world.is_main else None
    events = Events(world.is_main)
    run_id = os.path.basename(os.path.normpath(run_dir))
    pid = int(os.environ.get("LILY_RUN_PID", os.getpid()))
    device = world.device.type
    note = f"torch backend, {world.size} process{'es' if world.size > 1 else ''} ({world.backend})" + (f"; {world.note}" if world.note else "")
    started = time.time()
    if writer:
        if resume:
            for d in remove_checkpoints_after(run_dir, start):
                _log(world, f"Removed {os.path.relpath(d, run_dir)} (after the resumed step {start})")
            writer.truncate_log("metrics", start)
            writer.truncate_log("router", start)
            writer.update_status(state="running", pid=pid, step=start, total_steps=total, device=device, device_note=note, error=None, ended_at=None)
        else:
            current = read_json_if_valid(writer.file("status")) or {}
            writer.update_status(
                run_id=run_id, name=cfg["name"], state="running", pid=pid, method=cfg["adapter"]["method"], task=task,
                step=0, total_steps=total, epoch=0, started_at=current.get("started_at", now_iso()), device=device,
                device_note=note, config_path=config_path, trainable_params=trainable,
            )
    events.emit(event="started", runDir=run_dir, runId=run_id, pid=pid, totalSteps=total, device=device, deviceNote=note, trainableParams=trainable)
    _log(world, f"Run {run_id}: {cfg['adapter']['method']}, {trainable:,} trainable parameters, {total} steps, {note}")

    divergence = DivergenceMonitor(t.get("divergence"), divergence_state)
    step = start
    last_ckpt = os.path.relpath(resume, run_dir) if resume else None
    last_ckpt_step = start if resume else -1
    epoch_of = lambda s: s / spe  # noqa: E731
    time_s = lambda: time.time() - started  # noqa: E731

    def do_eval(s: int):
        """Rank 0 evaluates alone (routing over its own eval batches, as the engine does)."""
        metrics = None
        if eval_data is not None and world.is_main:
            state.distributed = False
            acc = EvalAccumulator(task)
            with torch.no_grad():
                for b0 in range(0, eval_data.size, t["batch_size"]):
                    b = eval_data.batch(list(range(b0, min(b0 + t["batch_size"], eval_data.size))))
                    acc.add(forward(b["inputs"]).cpu(), b["labels"])
            state.distributed = state.group is not None
            metrics = acc.result()
            line = {"type": "eval", "step": s, "epoch": epoch_of(s), "metrics": metrics, "time_s": time_s()}
            writer.append_metric(line)
            events.emit(event="metrics", line=line)
            writer.update_status(**({"eval": metrics, "eval_before": metrics} if s == 0 else {"eval": metrics}))
            _log(world, f"eval @ step {s}: " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
        world.barrier()
        return metrics

    def checkpoint(s: int):
        nonlocal last_ckpt, last_ckpt_step
        if world.is_main:
            opt = {}
            for n, p in named:
                st = optimizer.state.get(p, {})
                for slot in slots:
                    opt[f"{n}.{slot}"] = st[slot] if slot in st else torch.zeros_like(p)
            epoch, pos = plan.position(s)
            log_window = {"loss": window["loss"], "steps": window["steps"], "samples": window["samples"], "tokens": window["tokens"],
                          "seconds": time.time() - window["since"], "router": router.state()}
            trainer_state = {"step": s, "epoch": epoch, "position_in_epoch": pos, "data_order_seed": t["seed"], "rng_state": None,
                             "total_steps": total, "method": cfg["adapter"]["method"], "log_window": log_window,
                             "divergence": divergence.snapshot(), "backend": "torch", "world_size": world.size}
            d = save_checkpoint(run_dir, s, {n: p for n, p in named}, opt, trainer_state,
                                extra={COMPACT_FILE: lambda f: write_compact(f, peft_model, cfg, targets, saved)})
            last_ckpt = os.path.relpath(d, run_dir)
            writer.update_status(last_checkpoint=last_ckpt)
            events.emit(event="checkpoint", path=d, step=s)
        last_ckpt_step = s
        world.barrier()

    def finish(state_name: str, s: int, error: str | None = None) -> int:
        if writer:
            writer.update_status(state=state_name, step=s, epoch=epoch_of(s), ended_at=now_iso(), **({"error": error} if error else {}))
        events.emit(event="finished", state=state_name, runDir=run_dir, **({"error": error} if error else {}))
        return {"completed": EXIT_OK, "stopped": EXIT_STOPPED}.get(state_name, EXIT_FAILURE)

    try:
        if start == 0:
            do_eval(0)
            window["since"] = time.time()
        eval_due = lambda s: (s % t["eval_every"] == 0 if t.get("eval_every") else s % spe == 0) or s == total  # noqa: E731
        save_due = lambda s, ev: (s % t["save_every"] == 0 if t.get("save_every") else ev) or s == total  # noqa: E731
        sec_per_step = None
        while step < total:
            if world.any(stop["reason"] is not None):
                stop["reason"] = stop["reason"] or "stopped (another process was stopped)"
                break
            indices = plan.indices_for_step(step)
            share = indices[world.rank * per_rank:(world.rank + 1) * per_rank]
            batch = train_data.batch(share)
            lr = learning_rate(step, t["lr"], t["schedule"], t["warmup_steps"], total)
            for g in optimizer.param_groups:
                g["lr"] = lr
            optimizer.zero_grad(set_to_none=False)
            loss_sum, count = loss_sum_and_count(task, forward(batch["inputs"]), batch["labels"].to(world.device))
            global_count = world.all_sum(count.detach().clone()).clamp(min=1)
            (loss_sum / global_count).backward()
            for p in params:
                if p.grad is None:
                    p.grad = torch.zeros_like(p)
                world.all_sum(p.grad)
            loss = float(world.all_sum(loss_sum.detach().clone()) / global_count)
            max_norm = t["max_grad_norm"] if t["max_grad_norm"] > 0 else math.inf
            grad_norm = float(torch.nn.utils.clip_grad_norm_(params, max_norm, foreach=False))
            optimizer.step()
            verdict = divergence.check(loss, grad_norm, max_abs_of(named))
            if verdict:
                # The weights after this step are the diverged ones: no checkpoint or adapter is
                # written from them; the last good checkpoint stays.
                reason, field = verdict
                error = (f"training diverged at step {step + 1} (lr {lr:.3g}): {reason}. "
                         + (f"The last good checkpoint is {last_ckpt} (step {last_ckpt_step}). " if last_ckpt else "No checkpoint was written. ")
                         + divergence_hint(t, field))
                _log(world, f"error: {error}")
                return finish("failed", step, error)
            step += 1
            router.add(dict(state.last))
            window["loss"] += loss
            window["steps"] += 1
            window["samples"] += len(indices)
            window["tokens"] += train_data.tokens(indices)
            now = time.time()
            logged = step % t["log_every"] == 0 or step == total
            if logged and writer:
                seconds = max(1e-9, now - window["since"])
                per = seconds / window["steps"]
                sec_per_step = per if sec_per_step is None else 0.7 * sec_per_step + 0.3 * per
                line = {"type": "train", "step": step, "epoch": epoch_of(step), "loss": window["loss"] / window["steps"], "lr": lr,
                        "grad_norm": grad_norm, "samples_per_s": window["samples"] / seconds, "tokens_per_s": window["tokens"] / seconds, "time_s": time_s()}
                writer.append_metric(line)
                events.emit(event="metrics", line=line)
                rl = router.line(step, targets)
                if rl:
                    writer.append_router(rl)
                    events.emit(event="router", line=rl)
                writer.update_status(step=step, epoch=epoch_of(step), loss=line["loss"], samples_per_s=line["samples_per_s"], eta_s=sec_per_step * (total - step))
                events.emit(event="progress", step=step, totalSteps=total, epoch=epoch_of(step), loss=loss,
                            samplesPerSec=len(indices) / sec_per_step, etaSeconds=sec_per_step * (total - step))
            if logged:
                window = {"loss": 0.0, "steps": 0, "samples": 0, "tokens": 0, "since": time.time()}
                if not writer:
                    router.line(step, targets)
            evaluated = False
            if eval_due(step):
                do_eval(step)
                evaluated = True
            if save_due(step, evaluated):
                checkpoint(step)

        if stop["reason"] and step < total:
            if last_ckpt_step != step:
                checkpoint(step)
            if world.is_main:
                write_adapter(run_dir, peft_model, cfg, targets, saved)
            _log(world, f"Stopped at step {step}/{total}: {stop['reason']}. Resume with: lily train {config_path} --backend torch --resume {run_dir}")
            return finish("stopped", step, f"{stop['reason']} at step {step}; resume with --resume {run_dir}")
        if world.is_main:
            write_adapter(run_dir, peft_model, cfg, targets, saved)
        _log(world, f"Trained {step - start} steps in {time_s():.1f} s")
        return finish("completed", step)
    except InputError:
        raise
    except Exception as e:  # noqa: BLE001 - the run directory must say why the run ended
        error = f"{e}" + (f" (last checkpoint: {last_ckpt})" if last_ckpt else "")
        _log(world, f"error: {error}")
        finish("failed", step, error)
        raise
    finally:
        world.close()
