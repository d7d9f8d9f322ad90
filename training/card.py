"""The model card (README.md of a bundle), written from the manifest so the two never disagree."""

from __future__ import annotations

from model.bundle import Manifest

# Published and measured reference accuracies (%) on the official test splits, for context.
REFERENCES: dict[str, list[tuple[str, float]]] = {
    "imdb-test": [
        ("Maas et al. 2011, word vectors", 88.89),
        ("NBSVM-bigram, Wang & Manning 2012", 91.22),
        ("TF-IDF 1-2-grams + logistic regression (measured here)", 90.6),
        ("NB-weighted LR, uni+bigrams (measured here)", 91.5),
    ],
    "sst2-sent_test": [
        ("CNN-rand, Kim 2014", 83.7),
        ("TF-IDF + LR trained on SST-2 (measured here)", 81.3),
    ],
    "nsmc-ratings_test": [
        ("BiLSTM / CNN from scratch (published)", 86.5),
        ("TF-IDF char 1-3-grams + LR (measured here)", 87.2),
        ("KoBERT (published)", 90.1),
    ],
}


def _metrics_rows(manifest: Manifest) -> list[str]:
    rows = ["| set | variant | n | accuracy | macro-F1 | ECE |", "|---|---|---|---|---|---|"]
    for key, variant in manifest.variants.items():
        for name, m in variant.metrics.items():
            rows.append(
                f"| {name} | {key} | {m['n']:,} | {100 * m['accuracy']:.2f} | "
                f"{100 * m['macro_f1']:.2f} | {m['ece']:.3f} |"
            )
    return rows


def _reference_rows(manifest: Manifest) -> list[str]:
    rows = []
    for name in manifest.metrics:
        for label, value in REFERENCES.get(name, []):
            rows.append(f"| {name} | {label} | {value:.2f} |")
    return (["| set | reference | accuracy |", "|---|---|---|", *rows]) if rows else []


def _architecture(arch: dict) -> str:
    """One sentence on the parts of the graph, from the manifest's architecture record."""
    members = arch.get("members", 1) if arch.get("arch") != "none" else 0
    char_members = arch.get("char_members", 0)
    recurrent = (
        f"{members} {'bidirectional ' if arch.get('bidirectional') else ''}"
        f"{arch.get('arch', '?').upper()}{'s' if members > 1 else ''} (embedding "
        f"{arch.get('embed_dim')}, hidden {arch.get('hidden_dim')}"
        + (f"; {char_members} reading characters" if char_members else "")
        + ")"
    )
    ngrams = ""
    if arch.get("ngram_buckets"):
        chars = arch.get("char_order", 0)
        ngrams = (
            "a hashed n-gram branch (NB-weighted logistic regression over token 1-"
            f"{arch.get('ngram_order')}-grams"
            + (f" and character 1-{chars}-grams" if chars else "")
            + f", {arch['ngram_buckets']:,} buckets)"
        )
    parts = [p for p in (recurrent if members else "", ngrams) if p]
    mixing = ", mixed with weights that depend on the text's length," if len(parts) > 1 else ""
    return " and ".join(parts) + mixing + " all in one ONNX graph."


def render_card(manifest: Manifest) -> str:
    config = manifest.training_config
    arch = manifest.architecture
    versions = ", ".join(f"{k} {v}" for k, v in manifest.library_versions.items())
    lines = [
        f"# {manifest.name} {manifest.version}",
        "",
        f"Sentiment classifier ({', '.join(manifest.labels)}) for language `{manifest.language}`: "
        + _architecture(arch),
        "",
        "## Data",
        f"Trained on {', '.join(config.get('train_files', []))} (validation: "
        f"{config.get('val_fraction')} of each file, `{config.get('val_split')}` split); "
        f"evaluated once on {', '.join(config.get('test_files', [])) or 'no test file'}."
        + (
            f" The n-gram branch was fitted on {', '.join(config['ngram_files'])} only."
            if config.get("ngram_files")
            else ""
        ),
        f"Texts longer than {manifest.max_length} tokens keep the first "
        f"{manifest.truncation.head_tokens} and the last "
        f"{manifest.max_length - manifest.truncation.head_tokens} tokens.",
        "",
        "## Metrics",
        *_metrics_rows(manifest),
        "",
        f"The service runs the `{manifest.default_variant}` variant by default."
        + (
            " The int8 variant quantises activations per batch, so a text's scores can move by"
            " about 1e-3 with the texts batched beside it."
            if "int8" in manifest.variants
            else ""
        ),
        "",
        *_reference_rows(manifest),
        "",
        "## Intended use and limits",
        "- Polarity of opinionated text in the training domain (movie reviews); other domains "
        "(product reviews, tweets, news) will lose accuracy.",
        "- Sarcasm, negation across long spans and mixed verdicts are common errors.",
        "- Scores are softmax probabilities; check the ECE above before reading them as "
        "calibrated.",
        "- Not for decisions about people.",
        "",
        f"Created {manifest.created_at} with {versions}.",
    ]
    return "\n".join(lines) + "\n"
