"""fp32 matMul rates in PyTorch for bench/matmul.ts: the same shapes and timing rule, so the two columns compare the
kernels under the authors' loop (MKL / oneDNN) with TensorFlow's. Prints one JSON line of versions, then one per shape.

    .venv-hf/bin/python bench/matmul-torch.py --shapes 1024x1024x1024,128x256x256 [--threads 1] [--seconds 1] [--repeats 3]
"""
import argparse
import json
import re
import time

import torch

parser = argparse.ArgumentParser()
parser.add_argument('--shapes', required=True, help='comma-separated MxKxN: an M×K by K×N product each')
parser.add_argument('--threads', type=int, default=1)
parser.add_argument('--seconds', type=float, default=1.0)
parser.add_argument('--repeats', type=int, default=3)
args = parser.parse_args()
torch.set_num_threads(args.threads)
torch.manual_seed(0)

config = torch.__config__.show()
mkl = re.search(r'Math Kernel Library Version ([\w.]+)', config)
onednn = re.search(r'(?:oneDNN|MKL-DNN) v([\w.]+)', config)
print(json.dumps({
    'torch': torch.__version__,
    'cpu_capability': torch.backends.cpu.get_cpu_capability(),
    'mkl': mkl.group(1) if mkl else None,
    'onednn': onednn.group(1) if onednn else None,
    'float32_matmul_precision': torch.get_float32_matmul_precision(),
    'threads': torch.get_num_threads(),
}))


def rate(m, k, n):
    """GFLOP/s of M×K · K×N products: the best of `repeats` loops of about `seconds` each."""
    a, b = torch.randn(m, k), torch.randn(k, n)
    for _ in range(3):
        a @ b
    best = 0.0
    for _ in range(args.repeats):
        count, start = 0, time.perf_counter()
        while time.perf_counter() - start < args.seconds:
            a @ b
            count += 1
        best = max(best, 2 * m * k * n * count / (time.perf_counter() - start) / 1e9)
    return best


for shape in args.shapes.split(','):
    m, k, n = (int(x) for x in shape.split('x'))
    print(json.dumps({'shape': shape, 'gflops': rate(m, k, n)}))
