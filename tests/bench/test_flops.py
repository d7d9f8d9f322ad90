"""FLOPs per token from the architecture, against hand computation."""

from __future__ import annotations

import pytest

from bench.flops import flops_per_token, gflops

pytestmark = pytest.mark.unit  # no torch, no ../shared/data

BASE = {
    "arch": "lstm",
    "embed_dim": 128,
    "hidden_dim": 128,
    "num_layers": 1,
    "bidirectional": True,
    "cnn_channels": 128,
    "cnn_kernel": 3,
}


def test_bilstm_128_128() -> None:
    # 2 directions x 4 gates x (128x128 + 128x128) multiply-adds x 2 FLOPs = 524,288
    assert flops_per_token(BASE) == 2 * 4 * (128 * 128 + 128 * 128) * 2 == 524_288


def test_hidden_64() -> None:
    assert flops_per_token({**BASE, "hidden_dim": 64}) == 2 * 4 * (128 * 64 + 64 * 64) * 2


def test_second_layer_reads_both_directions() -> None:
    two = flops_per_token({**BASE, "num_layers": 2})
    assert two == 524_288 + 2 * 4 * (256 * 128 + 128 * 128) * 2


def test_gru_has_three_gates_and_one_direction_halves() -> None:
    assert flops_per_token({**BASE, "arch": "gru", "bidirectional": False}) == 3 * 32768 * 2


def test_cnn_front_end_adds_its_convolution() -> None:
    conv = 2 * 3 * 128 * 128
    assert flops_per_token({**BASE, "arch": "cnn_lstm"}) == 524_288 + conv


def test_ngram_branch_alone_has_no_flops() -> None:
    assert flops_per_token({**BASE, "arch": "none"}) == 0


def test_gflops_scales_with_rate_and_length() -> None:
    assert gflops(BASE, 1000.0, 100) == 524_288 * 100 * 1000 / 1e9
