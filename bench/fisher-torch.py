"""The authors' Fisher loop in PyTorch, for comparison with bench/fisher.ts: one backward pass per sample (batch size 1),
squared gradients summed per parameter, on a BertForMaskedLM folder with random 15%-masked sequences.

    .venv-hf/bin/python bench/fisher-torch.py --model DIR [--seq 128] [--samples 8] [--threads 2]
"""
import argparse
import time

import torch
from transformers import BertForMaskedLM

parser = argparse.ArgumentParser()
parser.add_argument('--model', required=True)
parser.add_argument('--seq', type=int, default=128)
parser.add_argument('--samples', type=int, default=8)
parser.add_argument('--threads', type=int, default=2)
args = parser.parse_args()
torch.set_num_threads(args.threads)
torch.manual_seed(0)
model = BertForMaskedLM.from_pretrained(args.model).eval()
V = model.config.vocab_size
fisher = {n: torch.zeros_like(p) for n, p in model.named_parameters()}


def sample():
    ids = torch.randint(5, V, (1, args.seq))
    labels = torch.full_like(ids, -100)
    masked = torch.rand(ids.shape) < 0.15
    masked[0, 1] = True
    labels[masked] = ids[masked]
    ids[masked] = 4
    return ids, labels


def step(ids, labels):
    model.zero_grad()
    model(input_ids=ids, labels=labels).loss.backward()
    for n, p in model.named_parameters():
        if p.grad is not None:
            fisher[n] += p.grad.detach() ** 2


step(*sample())  # warm-up
data = [sample() for _ in range(args.samples)]
t0 = time.perf_counter()
for ids, labels in data:
    step(ids, labels)
seconds = time.perf_counter() - t0
print(f'pytorch {torch.__version__}, {args.threads} threads, L={model.config.num_hidden_layers} H={model.config.hidden_size} V={V}, '
      f'{args.seq} tokens: {args.samples} samples in {seconds:.2f} s, {args.samples / seconds:.3f} samples/s (batch size 1 loop)')
