#!/usr/bin/env python3
"""Training speed of the same Gated PixelCNN in PyTorch (CPU), for comparison with burn.

Usage: python3 benches/torch_train_speed.py [--steps 40] [--batch 64] [--threads 2]

Mirrors src/model.rs exactly (mnist config: 10 gated layers, hidden 64, first kernel 7,
kernel 3, head 256, 2 levels, 10 classes + "no class"), trains with Adam on random binary
28×28 images and prints images/second after a warm-up. Needs `pip install torch`.
"""
import argparse
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Conv(nn.Module):
    def __init__(self, c_in, c_out, kh, kw, pads, mask=None):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, (kh, kw))
        self.pads = pads  # (left, right, top, bottom) for F.pad
        self.register_buffer("mask", mask if mask is not None else torch.ones(c_out, c_in, kh, kw))

    def forward(self, x):
        return F.conv2d(F.pad(x, self.pads), self.conv.weight * self.mask, self.conv.bias)


class Layer(nn.Module):
    def __init__(self, c_in, n, k, first, classes):
        super().__init__()
        half = k // 2
        self.v = Conv(c_in, 2 * n, half + 1, k, (half, half, half, 0))
        mask = torch.ones(2 * n, c_in, 1, half + 1)
        if first:
            mask[:, :, :, -1] = 0  # mask A for one channel: the current pixel is hidden
        self.h = Conv(c_in, 2 * n, 1, half + 1, (half, 0, 0, 0), mask)
        self.v2h = Conv(2 * n, 2 * n, 1, 1, (0, 0, 0, 0))
        self.out = Conv(n, n, 1, 1, (0, 0, 0, 0))
        self.cls = nn.Parameter(torch.zeros(classes + 1, 2 * n))
        self.residual = not first

    @staticmethod
    def gate(x):
        a, b = x.chunk(2, 1)
        return torch.tanh(a) * torch.sigmoid(b)

    def forward(self, v, h, labels):
        c = self.cls[labels][:, :, None, None]
        v_pre = self.v(v)
        shifted = F.pad(v_pre, (0, 0, 1, 0))[:, :, :-1]
        h_pre = self.h(h) + self.v2h(shifted)
        h_out = self.out(self.gate(h_pre + c))
        return self.gate(v_pre + c), (h + h_out if self.residual else h_out)


class PixelCNN(nn.Module):
    def __init__(self, n=64, layers=10, k0=7, k=3, head=256, levels=2, classes=10):
        super().__init__()
        self.layers = nn.ModuleList([Layer(1 if i == 0 else n, n, k0 if i == 0 else k, i == 0, classes) for i in range(layers)])
        self.h1 = nn.Conv2d(n, head, 1)
        self.h2 = nn.Conv2d(head, levels, 1)
        self.levels = levels

    def forward(self, x, labels):
        x = x * (2.0 / (self.levels - 1)) - 1
        v = h = x
        for layer in self.layers:
            v, h = layer(v, h, labels)
        return self.h2(F.relu(self.h1(F.relu(h))))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = PixelCNN()
    params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-8)
    x = (torch.rand(args.batch, 1, 28, 28) < 0.2).float()
    labels = torch.randint(0, 11, (args.batch,))
    for step in range(args.warmup + args.steps):
        if step == args.warmup:
            start = time.perf_counter()
        logits = model(x, labels)
        loss = F.cross_entropy(logits, x[:, 0].long(), reduction="sum") / args.batch
        opt.zero_grad()
        loss.backward()
        opt.step()
    elapsed = time.perf_counter() - start
    print(f"pytorch {torch.__version__} cpu threads={args.threads} params={params} batch={args.batch}: "
          f"{args.steps * args.batch / elapsed:.1f} img/s")


if __name__ == "__main__":
    main()
