// The choices of "Lily: Train on PyTorch...": processes on this machine (1, the config's
// runtime.processes, all cores) or the launch template from the lily.torch.launch setting.
// No vscode import, so mocha tests it in plain Node.

export interface TorchLaunch {
  processes?: number;
  launch?: string;
}

export interface TorchLaunchChoice {
  label: string;
  description?: string;
  detail?: string;
  launch: TorchLaunch;
  /** The template is not set: picking this opens the setting instead of training. */
  openSettings?: boolean;
}

export function torchLaunchChoices(cores: number, template: string, configured: number | undefined): TorchLaunchChoice[] {
  const counts = [...new Set([configured ?? 1, 1, Math.max(1, cores)])];
  const out: TorchLaunchChoice[] = counts.map((n) => ({
    label: `$(server-process) ${n} local process${n === 1 ? '' : 'es'}`,
    description: n === configured ? 'runtime.processes of the config' : n === cores && n > 1 ? 'one per core' : undefined,
    detail: n === 1 ? 'python lily_train.py' : `torchrun --nproc-per-node ${n} (gloo on CPU, nccl on GPUs); the global batch is split over them`,
    launch: { processes: n },
  }));
  if (template) {
    out.push({ label: '$(cloud) Launch template', description: 'lily.torch.launch', detail: template, launch: { launch: template } });
  } else {
    out.push({ label: '$(cloud) Launch template', description: 'not set', detail: 'Set lily.torch.launch (e.g. an srun or multi-node torchrun line with {script} and {args}) to launch elsewhere', launch: {}, openSettings: true });
  }
  return out;
}
