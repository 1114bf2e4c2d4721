// The run's header: name, method, adapter summary, trainable parameters, device, throughput,
// state and progress; the run pickers when the host sent a run list.
import type { LilyConfig } from '../../../native-runtime/config/types';
import { el } from '../dom';
import { fmtCount, fmtDuration, fmtShort, fmtDevice } from '../format';
import { createDropdown, type Choice } from '../toolkit';
import type { View, ViewContext } from './context';

const NO_COMPARE = '__none__';

export class HeaderView implements View {
  readonly element: HTMLElement;
  private readonly title: HTMLElement;
  private readonly method = el('span', { class: 'pill', attrs: { 'data-role': 'method' } });
  private readonly state = el('span', { class: 'pill state', attrs: { 'data-role': 'state', role: 'status' } });
  private readonly summary: HTMLElement;
  private readonly facts: HTMLElement;
  private readonly progress: HTMLProgressElement;
  private readonly progressLabel: HTMLElement;
  private readonly pickers: HTMLElement;
  private runPick: Choice<string> | undefined;
  private comparePick: Choice<string> | undefined;

  constructor(private readonly ctx: ViewContext) {
    this.title = el('h1', { attrs: { 'data-role': 'run-name' } });
    this.summary = el('p', { class: 'summary', attrs: { 'data-role': 'config-summary' } });
    this.facts = el('dl', { class: 'facts', attrs: { 'data-role': 'facts' } });
    this.progress = el('progress', { attrs: { max: 1, value: 0, 'aria-label': 'Training progress' } });
    this.progressLabel = el('span', { class: 'progress-label', attrs: { 'data-role': 'progress' } });
    this.pickers = el('div', { class: 'pickers' });
    this.element = el('header', { class: 'run-header' }, [
      el('div', { class: 'title-row' }, [this.title, this.method, this.state, this.pickers]),
      this.summary,
      el('div', { class: 'progress-row' }, [this.progress, this.progressLabel]),
      this.facts,
    ]);
  }

  render(): void {
    const run = this.ctx.store.main;
    this.renderPickers();
    if (!run) {
      this.title.textContent = 'Lily dashboard';
      this.summary.textContent = 'Waiting for run data…';
      return;
    }
    const s = run.status;
    this.title.textContent = run.name;
    this.method.textContent = s.method === 'lily' ? 'Lily' : 'LoRA';
    this.state.textContent = s.state;
    this.state.dataset.state = s.state;
    this.summary.textContent = adapterSummary(run.config, s.method);
    this.progress.max = Math.max(1, s.total_steps);
    this.progress.value = Math.min(s.step, s.total_steps);
    this.progressLabel.textContent = `step ${s.step} / ${s.total_steps} · epoch ${s.epoch}` + (s.state === 'running' && s.eta_s !== undefined ? ` · ETA ${fmtDuration(s.eta_s)}` : '');
    const facts: Array<[string, string]> = [
      ['Trainable parameters', fmtCount(s.trainable_params)],
      ['Device', fmtDevice(s.device, s.device_note)],
      ['Throughput', s.samples_per_s !== undefined ? `${fmtShort(s.samples_per_s)} samples/s` : '–'],
      ['Loss', s.loss !== undefined ? fmtShort(s.loss) : '–'],
      ['Task', s.task],
    ];
    if (s.eval) facts.push(['Eval', formatMetrics(s.eval) + (s.eval_before ? ` (before: ${formatMetrics(s.eval_before)})` : '')]);
    const compare = this.ctx.store.compare;
    if (compare) facts.push(['Compared with', `${compare.name} (${compare.status.method}, ${fmtCount(compare.status.trainable_params)} params)`]);
    if (s.error) facts.push(['Error', s.error]);
    this.facts.replaceChildren(...facts.map(([k, v]) => el('div', { class: 'fact' }, [el('dt', { text: k }), el('dd', { text: v })])));
  }

  private renderPickers(): void {
    const runs = this.ctx.store.runs;
    this.pickers.hidden = runs.length === 0;
    if (!runs.length) return;
    const main = this.ctx.store.main?.runDir ?? runs[0].runDir;
    const compare = this.ctx.store.compare?.runDir ?? NO_COMPARE;
    const runOptions = runs.map((r) => ({ value: r.runDir, label: `${r.name} (${r.method}, ${r.state})` }));
    if (!this.runPick) {
      this.runPick = createDropdown('Run shown', runOptions, main, (runDir) => this.ctx.post({ type: 'selectRun', runDir }), 'run-pick');
      this.comparePick = createDropdown('Comparison run', [], NO_COMPARE, (runDir) => this.ctx.post({ type: 'selectCompare', runDir: runDir === NO_COMPARE ? null : runDir }), 'compare-pick');
      this.pickers.append(this.runPick.element, this.comparePick.element);
    }
    this.runPick.setOptions(runOptions, main);
    this.comparePick?.setOptions([{ value: NO_COMPARE, label: 'no comparison' }, ...runOptions.filter((o) => o.value !== main)], compare);
  }
}

function adapterSummary(config: LilyConfig | undefined, method: 'lily' | 'lora'): string {
  const adapter = config?.adapter;
  if (!adapter) return method === 'lily' ? 'Lily adapter (config not available)' : 'LoRA adapter (config not available)';
  const targets = Array.isArray(adapter.target_modules) ? adapter.target_modules.join(', ') : `/${adapter.target_modules}/`;
  if (adapter.method === 'lily') {
    // PEFT's defaults, for configs written before defaults were filled in.
    return `r ${adapter.r ?? 32} · stride_A ${adapter.stride_A ?? 1} · num_B ${adapter.num_B ?? 2} · scaling ${adapter.scaling ?? 1} · routing ${adapter.routing ?? 'batch'} · targets ${targets}`;
  }
  return `r ${adapter.r ?? 'default'} · lora_alpha ${adapter.lora_alpha ?? adapter.r ?? 'default'} · targets ${targets}`;
}

function formatMetrics(metrics: Record<string, number>): string {
  return Object.entries(metrics).map(([k, v]) => `${k} ${fmtShort(v)}`).join(', ');
}
