"""peak_memory_bytes measures the training phase, not the data preparation before it (issue 14 item 4)."""

from __future__ import annotations

import sys

import pytest
import torch

from cnnbench.training.device import TrainingMemory

MIB = 1 << 20


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the RSS peak is reset through /proc")
def test_cpu_memory_is_the_growth_during_training_not_the_earlier_peak():
    transient = torch.ones(300 * MIB // 4)  # a data-preparation peak of 300 MiB, freed before training
    del transient
    memory = TrainingMemory(torch.device("cpu"))
    assert memory.measured == "cpu-rss-growth-during-training"
    kept = torch.ones(100 * MIB // 4)  # what training allocates and touches
    grown = memory.peak_bytes()
    assert 95 * MIB <= grown < 200 * MIB
    del kept
    assert memory.peak_bytes() >= grown - MIB  # a peak: freeing does not lower it (the kernel counts RSS in batches)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_memory_is_max_allocated_after_a_reset():
    device = torch.device("cuda")
    transient = torch.ones(64 * MIB // 4, device=device)
    del transient
    memory = TrainingMemory(device)
    kept = torch.ones(16 * MIB // 4, device=device)
    assert memory.measured == "cuda-max-allocated"
    assert 16 * MIB <= memory.peak_bytes() < 64 * MIB
    del kept
