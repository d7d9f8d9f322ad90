"""The transfer set: the texts the teacher labels for the student (Tang et al. 2019).

Three sources, deduplicated (lower-cased, spaces collapsed), never a validation or test text:
- every short training text of the student's mix (its hard label is kept beside the soft one);
- the sentences of long training reviews (the teacher reads sentences well, whole reviews badly);
- augmented copies of short training texts: words deleted (Tang's masking) or replaced by a word
  drawn from the corpus, or an n-gram of 1-5 words sampled from the text.
Written as JSON lines in a seeded, fixed order, so labelling can resume chunk by chunk; the
settings that made the file are written beside it, and other settings make it again.
"""

from __future__ import annotations

import gzip
import json
import logging
import random
import re
from collections.abc import Iterator
from pathlib import Path

from training.config import TrainConfig
from training.prepare import FileSplit, read_test_sets, read_training_files
from training.teacher.config import TeacherConfig

log = logging.getLogger(__name__)
TRANSFER_FILE = "transfer.jsonl.gz"
SETTINGS_FILE = "transfer.settings.json"
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(A-Z0-9])|<br\s*/?>(?:\s*<br\s*/?>)*", re.I)
_SPACES = re.compile(r"\s+")


def normalised(text: str) -> str:
    """The deduplication key: lower case, whitespace collapsed."""
    return _SPACES.sub(" ", text).strip().lower()


def sentences(review: str, min_words: int, max_words: int) -> list[str]:
    """A review's sentences of min_words..max_words words (markup breaks end sentences)."""
    parts = (_SPACES.sub(" ", p).strip() for p in _SENTENCE_END.split(review))
    return [p for p in parts if min_words <= len(p.split()) <= max_words]


class Augmenter:
    """Tang et al.'s rules on whitespace words, with deletion standing in for [MASK] (the
    student has no mask token) and a corpus word for a same-part-of-speech word."""

    def __init__(self, vocabulary: list[str], seed: int, settings: dict[str, float]) -> None:
        self.vocabulary, self.rng = vocabulary, random.Random(seed)
        self.p_delete = settings["delete_probability"]
        self.p_replace = settings["replace_probability"]
        self.p_ngram = settings["ngram_probability"]

    def __call__(self, text: str) -> str:
        words = text.split()
        if len(words) > 1 and self.rng.random() < self.p_ngram:
            n = self.rng.randint(1, min(5, len(words)))
            start = self.rng.randint(0, len(words) - n)
            return " ".join(words[start : start + n])
        kept = []
        for word in words:
            draw = self.rng.random()
            if draw < self.p_delete:
                continue
            kept.append(
                self.rng.choice(self.vocabulary) if draw < self.p_delete + self.p_replace else word
            )
        return " ".join(kept) if kept else text


def _frequent_words(texts: list[str], size: int) -> list[str]:
    counts: dict[str, int] = {}
    for text in texts:
        for word in text.lower().split():
            if word.isalpha():
                counts[word] = counts.get(word, 0) + 1
    return sorted(counts, key=counts.__getitem__, reverse=True)[:size]


def _candidates(config: TeacherConfig, splits: list[FileSplit]) -> Iterator[tuple[str, str]]:
    """(text, origin) in a fixed order: training texts, review sentences, augmented copies."""
    settings = config.transfer
    short, long_texts = [], []
    for split in splits:
        if split.entry.name in settings.skip_files:
            continue
        for text in split.train.texts:
            (long_texts if len(text.split()) > settings.long_words else short).append(
                (text, split.entry.name)
            )
    yield from ((t, f"train:{name}") for t, name in short)
    rng = random.Random(config.seed)
    review_sentences = [
        (s, name) for t, name in long_texts for s in sentences(t, 3, settings.long_words)
    ]
    rng.shuffle(review_sentences)
    yield from ((s, f"sentence:{n}") for s, n in review_sentences[: settings.max_sentences])
    augment = Augmenter(
        _frequent_words([t for t, _ in short], 20000), config.seed, settings.model_dump()
    )
    for copy in range(settings.augment_copies):
        for text, name in short:
            yield augment(text), f"augment{copy}:{name}"


def _settings(config: TeacherConfig) -> dict:
    """What decides the set's texts and order (chunk_texts only cuts it into chunks)."""
    return {"seed": config.seed, **config.transfer.model_dump(exclude={"chunk_texts"})}


def _is_current(path: Path, settings: dict) -> bool:
    recorded = path.parent / SETTINGS_FILE
    return path.exists() and recorded.exists() and json.loads(recorded.read_text()) == settings


def build_transfer_set(config: TeacherConfig, student: TrainConfig) -> Path:
    """Write <out_dir>/transfer.jsonl.gz: {"text", "origin"} per line, deduplicated; kept when
    the settings recorded beside it are the config's."""
    path, settings = Path(config.out_dir) / TRANSFER_FILE, _settings(config)
    if _is_current(path, settings):
        log.info("transfer set: %s exists, made with these settings", path)
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    splits = read_training_files(student)
    held_out = {normalised(t) for data in read_test_sets(student).values() for t in data.texts}
    held_out |= {normalised(t) for s in splits for t in s.validation.texts}
    seen: set[str] = set()
    counts: dict[str, int] = {}
    temporary = path.with_suffix(".tmp")
    with gzip.open(temporary, "wt", encoding="utf-8") as handle:
        for text, origin in _candidates(config, splits):
            key = normalised(text)
            if not key or key in seen or key in held_out:
                continue
            seen.add(key)
            kind = origin.split(":")[0]
            counts[kind] = counts.get(kind, 0) + 1
            handle.write(json.dumps({"text": text, "origin": origin}, ensure_ascii=False) + "\n")
            if len(seen) >= config.transfer.max_texts:
                break
    temporary.replace(path)
    (path.parent / SETTINGS_FILE).write_text(json.dumps(settings, indent=1) + "\n")
    log.info("transfer set: %d texts %s -> %s", len(seen), counts, path)
    return path


def read_transfer_set(path: Path) -> tuple[list[str], list[str]]:
    texts, origins = [], []
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            texts.append(record["text"])
            origins.append(record["origin"])
    return texts, origins
