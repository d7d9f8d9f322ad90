"""Torch-free model bundle contract shared by `training/` (writer) and `app/` (reader)."""

from model.bundle import (
    CARD_FILE,
    INT8_MODEL_FILE,
    MANIFEST,
    MODEL_FILE,
    TOKENIZER_FILE,
    Bundle,
    BundleError,
    Manifest,
    Truncation,
    Variant,
    discover_bundles,
    load_bundle,
    read_manifest,
    write_manifest,
)

__all__ = [
    "CARD_FILE",
    "INT8_MODEL_FILE",
    "MANIFEST",
    "MODEL_FILE",
    "TOKENIZER_FILE",
    "Bundle",
    "BundleError",
    "Manifest",
    "Truncation",
    "Variant",
    "discover_bundles",
    "load_bundle",
    "read_manifest",
    "write_manifest",
]
