from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from torch import nn

from model.runtime import cpu_session, run_logits
from model.text import pad_batch
from training.export import (
    ExportError,
    export_onnx,
    quantize_int8,
    share_large_initializers,
    verify_export,
)
from training.models import ModelSpec, SentimentClassifier

ROWS = [list(range(2, 2 + n)) for n in (40, 7, 1, 23, 12, 3)]


def trained_like(arch: str) -> SentimentClassifier:
    torch.manual_seed(1)
    spec = ModelSpec(
        300,
        2,
        arch=arch,
        embed_dim=16,
        hidden_dim=12,
        ngram_buckets=509,
        char_order=3,
        members=2,
        char_members=1,
        char_vocab=97,  # one member reads characters
    )
    model = SentimentClassifier(spec).eval()
    nn.init.normal_(model.ngrams.table.weight, std=0.1)
    codes = torch.randint(
        0, 3000, (300, spec.char_width), generator=torch.Generator().manual_seed(0)
    )
    model.token_chars.copy_(codes.to(torch.int32))
    return model


@pytest.mark.parametrize(
    ("arch", "op"), [("lstm", "LSTM"), ("gru", "GRU"), ("rnn", "RNN"), ("cnn_lstm", "LSTM")]
)
def test_export_uses_native_recurrent_op_and_verifies(tmp_path: Path, arch: str, op: str):
    model = trained_like(arch)
    path = tmp_path / "model.onnx"
    example = pad_batch(ROWS[:4])
    export_onnx(model, example, path, opset=17)
    report = verify_export(model, path, ROWS, example.shape[1])
    assert op in {node.op_type for node in onnx.load(str(path)).graph.node}
    assert max(report.values()) <= 1e-4


def test_strided_front_end_halves_the_steps_and_exports_padding_invariant(tmp_path: Path):
    torch.manual_seed(2)
    spec = ModelSpec(300, 3, arch="cnn_lstm", embed_dim=16, hidden_dim=12, cnn_stride=2)
    model = SentimentClassifier(spec).eval()
    member = model.recurrent[0]
    ids = torch.from_numpy(pad_batch(ROWS))
    mask = ids != 0
    _, steps_mask, steps = member.conv(member.embedding(ids), mask, mask.sum(dim=1))
    assert steps.tolist() == [(n + 1) // 2 for n in (40, 7, 1, 23, 12, 3)]
    assert steps_mask.sum(dim=1).tolist() == steps.tolist()
    path = tmp_path / "model.onnx"
    example = pad_batch(ROWS[:4])
    export_onnx(model, example, path, opset=17)
    report = verify_export(model, path, ROWS, example.shape[1])  # parity, padding, new shapes
    assert max(report.values()) <= 1e-4


def test_graph_runs_at_new_batch_and_sequence_sizes(tmp_path: Path):
    model = trained_like("lstm")
    path = tmp_path / "model.onnx"
    export_onnx(model, pad_batch(ROWS[:2]), path, opset=17)
    ids = np.random.default_rng(0).integers(2, 300, size=(9, 301))
    expected = model(torch.from_numpy(ids)).detach().numpy()
    actual = run_logits(cpu_session(path), ids)
    np.testing.assert_allclose(actual, expected, atol=1e-4)


class PaddedBidirectional(nn.Module):
    """The classic mistake: a bidirectional LSTM run over padding, as tutorials write it."""

    def __init__(self) -> None:
        super().__init__()
        self.spec = ModelSpec(300, 2, arch="lstm")
        self.embedding = nn.Embedding(300, 8, padding_idx=0)
        self.lstm = nn.LSTM(8, 8, batch_first=True, bidirectional=True)
        self.head = nn.Linear(16, 2)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(self.embedding(input_ids))
        mask = (input_ids != 0).unsqueeze(-1)
        return self.head((out * mask).sum(1) / mask.sum(1))


def test_verification_catches_padding_leaking_into_the_backward_direction(tmp_path: Path):
    torch.manual_seed(0)
    model = PaddedBidirectional().eval()
    path = tmp_path / "model.onnx"
    export_onnx(model, pad_batch(ROWS[:4]), path, opset=17)
    with pytest.raises(ExportError, match="padding changes results"):
        verify_export(model, path, ROWS, 40)


def test_verification_needs_rows_of_different_lengths(tmp_path: Path):
    model = trained_like("lstm")
    path = tmp_path / "model.onnx"
    export_onnx(model, pad_batch(ROWS[:2]), path, opset=17)
    with pytest.raises(ExportError, match="different lengths"):
        verify_export(model, path, [[5, 6], [7, 8]], 2)


def test_bundle_weights_read_back_into_torch_give_the_same_logits(trained_root: Path):
    from training.onnx_import import load_torch_model

    bundle = trained_root / "tiny-en"
    model = load_torch_model(bundle)
    ids = pad_batch(ROWS)
    expected = run_logits(cpu_session(bundle / "model.onnx"), ids)
    with torch.no_grad():
        actual = model(torch.from_numpy(ids)).numpy()
    np.testing.assert_allclose(actual, expected, atol=1e-5)


@pytest.mark.slow  # trains a run
def test_members_sharing_an_embedding_export_once_and_read_back(tmp_path: Path):
    from tests.factories import train_run
    from training.onnx_import import load_torch_model
    from training.package import export_bundle

    run = train_run(
        tmp_path / "run",
        train_files=["imdb/train.tsv.gz"],
        max_train_rows=300,
        members=2,
        share_embedding=True,
    )
    bundle = export_bundle(run, tmp_path / "bundle", quantize=False)
    graph = onnx.load(str(bundle / "model.onnx")).graph
    embeddings = [t for t in graph.initializer if t.name.endswith("embedding.weight")]
    assert len(embeddings) == 1
    model = load_torch_model(bundle)
    ids = pad_batch(ROWS)
    expected = run_logits(cpu_session(bundle / "model.onnx"), ids)
    with torch.no_grad():
        actual = model(torch.from_numpy(ids)).numpy()
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5)


def _float_tables(path: Path) -> dict[str, bytes]:
    graph = onnx.load(str(path)).graph
    return {
        t.name: t.raw_data
        for t in graph.initializer
        if t.data_type == onnx.TensorProto.FLOAT and len(t.dims) == 2 and t.dims[0] >= 300
    }


@pytest.mark.parametrize("tables", [True, False])
def test_int8_quantises_the_recurrence_and_keeps_tables_fp32_when_asked(
    tmp_path: Path, tables: bool
):
    model = trained_like("lstm")
    fp32, int8 = tmp_path / "model.onnx", tmp_path / "model.int8.onnx"
    export_onnx(model, pad_batch(ROWS[:4]), fp32, opset=17)
    quantize_int8(fp32, int8, tables=tables)
    ops = {node.op_type for node in onnx.load(str(int8)).graph.node}
    # the exporter reaches LSTM weights through Unsqueeze nodes: folded first, they quantise
    assert "DynamicQuantizeLSTM" in ops and "LSTM" not in ops
    assert not (tmp_path / "model.int8.folded.onnx").exists()
    kept = _float_tables(int8)
    if tables:
        assert kept == {}
    else:
        assert kept and all(_float_tables(fp32)[name] == data for name, data in kept.items())
    ids = pad_batch(ROWS)
    expected, actual = (run_logits(cpu_session(p), ids) for p in (fp32, int8))
    np.testing.assert_allclose(actual, expected, atol=0.05)


def test_fp32_tables_of_the_int8_graph_are_stored_once(tmp_path: Path):
    model = trained_like("lstm")
    graphs = ["model.onnx", "model.int8.onnx"]
    export_onnx(model, pad_batch(ROWS[:4]), tmp_path / graphs[0], opset=17)
    quantize_int8(tmp_path / graphs[0], tmp_path / graphs[1], tables=False)
    ids = pad_batch(ROWS)
    before = [run_logits(cpu_session(tmp_path / name), ids) for name in graphs]
    moved = share_large_initializers(tmp_path, graphs, min_bytes=1024)
    assert any(name.endswith("embedding.weight") for name in moved)
    after = [run_logits(cpu_session(tmp_path / name), ids) for name in graphs]
    for b, a in zip(before, after, strict=True):
        np.testing.assert_array_equal(b, a)


def test_a_release_of_the_same_weights_takes_version_card_and_export_only(tmp_path: Path):
    from training.config import build_config
    from training.package import as_release_of

    run = build_config("configs/sentiment-en.toml", {}).replace(
        version="2.0.0", quantize=False, int8_tables=True, epochs=5, release_notes=["old"]
    )
    release = tmp_path / "release.toml"
    release.write_text(
        "\n".join(
            [
                'name = "sentiment-en"',
                'version = "2.0.1"',
                'release_notes = ["2.0.1: adds int8"]',
                "[optimisation]",
                "epochs = 1",
                "[export]",
                "quantize = true",
                "int8_tables = false",
            ]
        )
    )
    config = as_release_of(run, str(release))
    assert (config.version, config.release_notes) == ("2.0.1", ["2.0.1: adds int8"])
    assert (config.quantize, config.int8_tables) == (True, False)
    assert config.epochs == 5 and config.train_files == run.train_files  # the run's training


@pytest.mark.slow  # trains a run
def test_a_natural_temperature_is_folded_into_the_mix_and_moves_no_label(tmp_path: Path):
    from model.bundle import CARD_FILE, load_bundle
    from model.text import TextEncoder
    from tests.factories import train_run
    from training import checkpoint
    from training.package import ValidationLogits, calibrate_for_natural_shares, export_bundle
    from training.prepare import TOKENIZER_NAME, load_validation, truncation_of

    run = train_run(
        tmp_path / "run",
        train_files=["imdb/train.tsv.gz"],
        max_train_rows=400,
        val_split="random",
        temperature="natural",
    )
    model, config = checkpoint.restore_model(checkpoint.load(run / checkpoint.BEST))
    model.eval()
    encoder = TextEncoder.from_file(run / TOKENIZER_NAME, truncation_of(config))
    validation = load_validation(run)
    ids = torch.from_numpy(pad_batch(encoder.ids_only(validation["imdb-train"].texts[:64])))
    with torch.no_grad():
        before = model(ids)
    scored = ValidationLogits.of(model, validation, encoder)
    temperature = calibrate_for_natural_shares(model, scored)
    with torch.no_grad():
        after = model(ids)
    assert temperature != 1.0 and temperature > 0
    torch.testing.assert_close(after, before / temperature, rtol=1e-4, atol=1e-5)
    assert torch.equal(after.argmax(1), before.argmax(1))

    bundle = load_bundle(export_bundle(run, tmp_path / "bundle", quantize=False))
    assert bundle.manifest.architecture["temperature"] == pytest.approx(temperature)
    assert "## Calibration" in (bundle.directory / CARD_FILE).read_text()
