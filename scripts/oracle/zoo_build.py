"""Builds the zoo and PEFT's reference results for test/hf/ (run with the project venv):

  .venv/bin/python scripts/oracle/zoo_build.py build --out DIR [--only bert,llama]
      every zoo entry (zoo.py: HF folder, ONNX exports, data) and, per entry and adapter method,
      PEFT's initial adapter (peft/<method>/init), PEFT's 10-step training of it (losses, the
      trained adapter in peft/<method>/trained) and PEFT's eval logits with the trained adapter
      (peft/<method>/ref.json). DIR/manifest.json is written last: a folder without it is incomplete.
  .venv/bin/python scripts/oracle/zoo_build.py peft-logits JOBS.json
      JOBS: [{"entry_dir", "adapter_dir"}]; prints [{"shape", "data", "loss"}] (PeftModel.from_pretrained
      on the entry's eval batch), one Python start for every job.

The tests cache DIR under a hash of these scripts and scripts/python-requirements.txt.
"""
import argparse
import json
import os
import sys
import time

import torch

import peft_ref
import zoo


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def build(out, only):
    os.makedirs(out, exist_ok=True)
    names = only or list(zoo.ENTRIES)
    manifest = {'entries': [], 'adapters': peft_ref.ADAPTERS, 'training': {**peft_ref.TRAINING, 'betas': list(peft_ref.TRAINING['betas'])},
                'versions': versions()}
    for name in names:
        t0 = time.time()
        entry = zoo.build_entry(name, out, log)
        entry_dir = os.path.join(out, name)
        entry['peft'] = {}
        for method in peft_ref.ADAPTERS:
            if method == 'lily' and entry['peft_lily_unsupported']:
                entry['peft'][method] = {'ok': False, 'error': entry['peft_lily_unsupported']}
                continue
            d = os.path.join(entry_dir, 'peft', method)
            peft_ref.write_init(entry_dir, entry, method, os.path.join(d, 'init'))
            losses = peft_ref.train(entry_dir, entry, os.path.join(d, 'init'), os.path.join(d, 'trained'))
            ref = {'losses': losses, 'eval': peft_ref.eval_logits(entry_dir, entry, os.path.join(d, 'trained'))}
            with open(os.path.join(d, 'ref.json'), 'w') as f:
                json.dump(ref, f)
            entry['peft'][method] = {'ok': True}
        with open(os.path.join(entry_dir, 'entry.json'), 'w') as f:
            json.dump(entry, f, indent=1)
        manifest['entries'].append(name)
        log(f'zoo: {name} built in {time.time() - t0:.1f} s')
    with open(os.path.join(out, 'manifest.json'), 'w') as f:
        json.dump(manifest, f, indent=1)


def versions():
    import onnx
    import onnxruntime
    import optimum
    import peft
    import transformers
    return {'torch': torch.__version__, 'transformers': transformers.__version__, 'peft': peft.__version__,
            'onnx': onnx.__version__, 'onnxruntime': onnxruntime.__version__,
            'optimum': getattr(optimum, '__version__', None) or _dist_version('optimum')}


def _dist_version(name):
    from importlib.metadata import version
    return version(name)


def peft_logits(jobs_file):
    with open(jobs_file) as f:
        jobs = json.load(f)
    out = []
    for job in jobs:
        with open(os.path.join(job['entry_dir'], 'entry.json')) as f:
            entry = json.load(f)
        out.append(peft_ref.eval_logits(job['entry_dir'], entry, job['adapter_dir']))
    json.dump(out, sys.stdout)


def main():
    torch.set_num_threads(int(os.environ.get('OMP_NUM_THREADS', '1')))
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest='cmd', required=True)
    b = sub.add_parser('build')
    b.add_argument('--out', required=True)
    b.add_argument('--only', default='')
    p = sub.add_parser('peft-logits')
    p.add_argument('jobs')
    a = ap.parse_args()
    if a.cmd == 'build':
        build(a.out, [n for n in a.only.split(',') if n])
    else:
        peft_logits(a.jobs)


if __name__ == '__main__':
    main()
