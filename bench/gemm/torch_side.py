"""PyTorch's side of bench/gemm.mjs: times each frozen-weight product of bench/gemm/shapes.json
the way autograd runs nn.Linear with a frozen weight W_t [out, in]: forward F.linear(x, W_t),
backward (input gradient) dY.mm(W_t). Prints one JSON line per product.

    python bench/gemm/torch_side.py '{"threads": 2, "repeats": 5}'
"""
import json
import os
import sys
import time

import torch
import torch.nn.functional as F


def main():
    a = json.loads(sys.argv[1] if len(sys.argv) > 1 else '{}')
    threads, repeats = a.get('threads', 2), a.get('repeats', 5)
    torch.set_num_threads(threads)
    torch.manual_seed(3)
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'shapes.json')) as f:
        products = json.load(f)['products']
    with torch.no_grad():
        for p in products:
            m, k, n = p['m'], p['k'], p['n']
            w_t = torch.randn(n, k) / k ** 0.5
            if p['form'] == 'forward':
                x = torch.randn(m, k)
                call = lambda: F.linear(x, w_t)
            else:
                dy = torch.randn(m, n)
                call = lambda: dy.mm(w_t)
            for _ in range(2):
                call()
            best = float('inf')
            for _ in range(repeats):
                t = time.perf_counter()
                call()
                best = min(best, (time.perf_counter() - t) * 1e3)
            print(json.dumps({'name': p['name'], 'ms': best}), flush=True)


if __name__ == '__main__':
    main()
