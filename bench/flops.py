"""Floating-point operations of the model, counted from its architecture (the manifest's
`architecture` block), so that measured speed can be set against the machine's peak.

Per token and per direction a recurrent layer multiplies the input [E] and the previous hidden
state [H] by one weight matrix per gate: gates x (E x H + H x H) multiply-adds, 2 FLOPs each.
Biases, gate nonlinearities, the hashed n-gram branch (lookups and a sort, no multiplications)
and pooling are left out: they are O(H) per token against O(H x (E + H)).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

GATES = {"lstm": 4, "cnn_lstm": 4, "gru": 3, "rnn": 1, "none": 0}


def recurrent_flops_per_token(arch: Mapping[str, Any]) -> int:
    kind = arch.get("arch", "lstm")
    gates = GATES[kind]
    hidden = int(arch["hidden_dim"])
    directions = 2 if arch.get("bidirectional", True) else 1
    width = int(arch["cnn_channels"] if kind == "cnn_lstm" else arch["embed_dim"])
    total = 0
    for _ in range(int(arch.get("num_layers", 1)) if gates else 0):
        total += directions * gates * (width * hidden + hidden * hidden) * 2
        width = hidden * directions
    return total


def conv_flops_per_token(arch: Mapping[str, Any]) -> int:
    if arch.get("arch") != "cnn_lstm":
        return 0
    return 2 * int(arch["cnn_kernel"]) * int(arch["embed_dim"]) * int(arch["cnn_channels"])


def flops_per_token(arch: Mapping[str, Any]) -> int:
    """FLOPs the model spends per (padded) token; the work per sequence is this x length."""
    return recurrent_flops_per_token(arch) + conv_flops_per_token(arch)


def gflops(arch: Mapping[str, Any], sequences_per_s: float, length: int) -> float:
    """Achieved GFLOP/s when `sequences_per_s` sequences of `length` tokens run per second."""
    return flops_per_token(arch) * length * sequences_per_s / 1e9
