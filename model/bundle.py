"""Model bundles: a folder with an ONNX graph, a tokenizer and a manifest that pins both.

The bundle is the only thing the service knows about training. Writing hashes every file into
`manifest.json`; loading checks every hash and refuses a bundle that is incomplete or altered.
Nothing here imports torch or onnxruntime.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"
MODEL_FILE = "model.onnx"
INT8_MODEL_FILE = "model.int8.onnx"
TOKENIZER_FILE = "tokenizer.json"
CARD_FILE = "README.md"
FORMAT_VERSION = 1
_NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")


class BundleError(Exception):
    """A bundle is missing, incomplete, altered or malformed; the message names the file."""


@dataclass(frozen=True)
class Truncation:
    """How token sequences longer than `max_length` are cut.

    `head_tokens` tokens are kept from the start and the rest of the budget from the end, since
    reviews tend to state their verdict in the first and last sentences.
    """

    max_length: int
    head_tokens: int

    def __post_init__(self) -> None:
        if self.max_length < 1 or not 0 <= self.head_tokens <= self.max_length:
            raise BundleError(
                f"truncation needs 1 <= max_length and 0 <= head_tokens <= max_length, "
                f"got max_length={self.max_length}, head_tokens={self.head_tokens}"
            )


@dataclass
class Variant:
    """One ONNX file of the bundle and what it measured."""

    file: str
    precision: str  # "fp32" or "int8"
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class Manifest:
    name: str
    version: str
    language: str
    labels: list[str]
    truncation: Truncation
    pad_id: int
    opset: int
    variants: dict[str, Variant]
    default_variant: str = "fp32"
    task: str = "sentiment-classification"
    # the two labels a binary (negative/positive) data set maps onto; binary evaluation
    # compares their probabilities, renormalised over the two
    binary_labels: list[str] = field(default_factory=list)
    training_data: list[dict[str, Any]] = field(default_factory=list)  # files, rows, licences
    # {"file": fast graph, "threshold": top fast-path probability at which a text is answered
    # from it, "validation"/"metrics": per set fast fraction and accuracies}; {} = no cascade
    cascade: dict[str, Any] = field(default_factory=dict)
    architecture: dict[str, Any] = field(default_factory=dict)
    training_config: dict[str, Any] = field(default_factory=dict)
    library_versions: dict[str, str] = field(default_factory=dict)
    # the teacher whose logits trained the model, and the transfer set's make-up; {} = none
    distillation: dict[str, Any] = field(default_factory=dict)
    # drift baseline measured on validation rows (`model.drift.compute_baseline`): label shares
    # of the served predictions, mean top probability, length buckets; {} = none (older bundles)
    baseline: dict[str, Any] = field(default_factory=dict)
    created_at: str = ""
    files: dict[str, str] = field(default_factory=dict)  # file name -> sha256
    format_version: int = FORMAT_VERSION

    @property
    def max_length(self) -> int:
        return self.truncation.max_length

    @property
    def metrics(self) -> dict[str, dict[str, Any]]:
        """Metrics of the variant the service runs by default."""
        return self.variants[self.default_variant].metrics

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["max_length"] = self.max_length
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any], source: Path) -> Manifest:
        try:
            fields = {k: v for k, v in data.items() if k != "max_length"}
            fields["truncation"] = Truncation(**fields["truncation"])
            fields["variants"] = {k: Variant(**v) for k, v in fields["variants"].items()}
            manifest = cls(**fields)
        except (KeyError, TypeError) as exc:
            raise BundleError(f"{source}: malformed manifest ({exc})") from exc
        manifest.validate(source)
        return manifest

    def validate(self, source: Path) -> None:
        if not _NAME_PATTERN.match(self.name):
            raise BundleError(
                f"{source}: bundle name {self.name!r} must be 1-63 lower-case letters, digits, "
                "'.', '_' or '-'"
            )
        if len(self.labels) < 2 or len(set(self.labels)) != len(self.labels):
            raise BundleError(f"{source}: labels must be at least two distinct names")
        if self.default_variant not in self.variants:
            raise BundleError(f"{source}: default_variant {self.default_variant!r} not in variants")
        if self.format_version != FORMAT_VERSION:
            raise BundleError(
                f"{source}: format_version {self.format_version} is not supported "
                f"(this code reads {FORMAT_VERSION})"
            )


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_manifest(directory: Path, manifest: Manifest) -> Path:
    """Hash every file of the bundle into the manifest and write it; returns the manifest path."""
    names = sorted(p.name for p in directory.iterdir() if p.is_file() and p.name != MANIFEST)
    manifest.files = {name: sha256_file(directory / name) for name in names}
    for variant in manifest.variants.values():
        if variant.file not in manifest.files:
            raise BundleError(f"{directory}: variant file {variant.file} is not in the bundle")
    path = directory / MANIFEST
    path.write_text(json.dumps(manifest.to_json(), indent=2, ensure_ascii=False) + "\n")
    return path


def read_manifest(directory: Path) -> Manifest:
    """Read the manifest without checking file hashes (see `load_bundle` for the checked read)."""
    path = directory / MANIFEST
    if not directory.is_dir():
        raise BundleError(f"{directory}: bundle folder does not exist")
    if not path.is_file():
        raise BundleError(f"{path}: manifest is missing; is {directory} a model bundle?")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BundleError(f"{path}: manifest is not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise BundleError(f"{path}: manifest must be a JSON object")
    return Manifest.from_json(data, path)


def verify_files(directory: Path, manifest: Manifest) -> None:
    """Check that every file the manifest lists exists and has its recorded sha256."""
    required = {TOKENIZER_FILE} | {v.file for v in manifest.variants.values()}
    if manifest.cascade:
        required.add(manifest.cascade["file"])
    unlisted = required - manifest.files.keys()
    if unlisted:
        raise BundleError(f"{directory}: manifest lists no checksum for {sorted(unlisted)}")
    for name, expected in manifest.files.items():
        if Path(name).name != name:
            raise BundleError(f"{directory}: manifest names a file outside the bundle: {name!r}")
        path = directory / name
        if not path.is_file():
            raise BundleError(f"{path}: file is missing from the bundle")
        actual = sha256_file(path)
        if actual != expected:
            raise BundleError(
                f"{path}: sha256 {actual[:12]}... does not match the manifest's "
                f"{expected[:12]}...; the file was altered or truncated"
            )


@dataclass(frozen=True)
class Bundle:
    directory: Path
    manifest: Manifest

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def tokenizer_path(self) -> Path:
        return self.directory / TOKENIZER_FILE

    @property
    def fast_path(self) -> Path | None:
        """The cascade's cheap graph, when the bundle has one."""
        cascade = self.manifest.cascade
        return self.directory / cascade["file"] if cascade else None

    def model_path(self, variant: str | None = None) -> Path:
        chosen = variant or self.manifest.default_variant
        if chosen not in self.manifest.variants:
            raise BundleError(
                f"{self.directory}: no variant {chosen!r}; it has {sorted(self.manifest.variants)}"
            )
        return self.directory / self.manifest.variants[chosen].file


def load_bundle(directory: Path | str) -> Bundle:
    """Read a bundle and verify every checksum; raises BundleError with the reason."""
    folder = Path(directory)
    manifest = read_manifest(folder)
    verify_files(folder, manifest)
    return Bundle(folder, manifest)


def discover_bundles(root: Path | str) -> list[Path]:
    """Folders directly under `root` that hold a manifest, sorted by name."""
    base = Path(root)
    if not base.is_dir():
        raise BundleError(f"{base}: model directory does not exist")
    return sorted(p for p in base.iterdir() if (p / MANIFEST).is_file())
