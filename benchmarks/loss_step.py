"""What each classification loss costs a training step, against softmax (issue 14 item 3).

A LeNet-5 step (forward, loss, backward, SGD step) on a batch of 32x32 images and 10 classes, once per
logits loss of the registry, interleaved over repeats in one process; each step time is the median over
the repeats, and the ratio the median of per-repeat ratios to the softmax step. The loss alone (forward
and backward on the step's logits) is timed beside it: its excess over softmax's, as a share of the
softmax step, is the steadier figure of what the loss adds (on a shared machine whole steps vary by 5-10%).

    python benchmarks/loss_step.py [--batch-sizes 16,128] [--repeats 7] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

from cnnbench.plugins import default_registry

CLASSES = 10


def lenet5() -> nn.Module:
    """LeNet-5 as the classification task builds it with ReLU and max pooling (the defaults)."""
    return nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, CLASSES),
    )


def cpu_ms(function: Callable[[], object], seconds: float) -> float:
    """Process CPU milliseconds per call, over at least ``seconds`` of calls (after one warm-up call)."""
    function()
    calls, start = 0, time.process_time()
    while (elapsed := time.process_time() - start) < seconds or calls < 3:
        function()
        calls += 1
    return elapsed / calls * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-sizes", default="16,128")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--min-time", type=float, default=0.3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    registry = default_registry()
    names = [c.name for c in registry.components("loss") if getattr(c.factory, "input_kind", "logits") == "logits"]
    names = ["softmax", *sorted(set(names) - {"softmax"}), "hinge(p=1)"]
    losses = {name: registry.create("loss", {"name": "hinge", "p": 1} if name == "hinge(p=1)" else name) for name in names}
    print(f"CPU ms per LeNet-5 step, {args.threads} thread(s), median of {args.repeats} interleaved repeats")
    print("| batch | loss | step ms | step vs softmax | loss fwd+bwd ms | loss adds to the step |")
    print("| ---: | --- | ---: | ---: | ---: | ---: |")
    for batch in (int(b) for b in args.batch_sizes.split(",")):
        torch.manual_seed(0)
        images, labels = torch.randn(batch, 1, 32, 32), torch.randint(0, CLASSES, (batch,))
        model = lenet5()
        optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
        logits = torch.randn(batch, CLASSES, requires_grad=True)

        def step(loss: nn.Module) -> None:
            optimizer.zero_grad(set_to_none=True)
            loss(model(images), labels).backward()
            optimizer.step()

        steps: dict[str, list[float]] = {name: [] for name in names}
        alone: dict[str, list[float]] = {name: [] for name in names}
        for repeat in range(args.repeats):
            for name in names if repeat % 2 == 0 else reversed(names):
                loss = losses[name]
                steps[name].append(cpu_ms(lambda: step(loss), args.min_time))
                alone[name].append(cpu_ms(lambda: torch.autograd.grad(loss(logits, labels), logits), args.min_time))
        for name in names:
            ratio = statistics.median(s / b for s, b in zip(steps[name], steps["softmax"]))
            step_ms, loss_ms = statistics.median(steps[name]), statistics.median(alone[name])
            added = (loss_ms - statistics.median(alone["softmax"])) / statistics.median(steps["softmax"])
            print(f"| {batch} | {name} | {step_ms:.3f} | {ratio:.3f}x | {loss_ms:.4f} | {added:+.1%} |", flush=True)


if __name__ == "__main__":
    main()
