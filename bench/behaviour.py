"""A behavioural test suite in the spirit of CheckList (Ribeiro et al. 2020): capabilities a
sentiment model needs on everyday text, each probed by templated cases with the labels that pass.

Every case is a minimum-functionality test (a text and the labels an attentive reader would
accept), so a perturbation test such as "an elongated word" is judged on the perturbed text's
own answer, not only on agreeing with the unperturbed one. The cases are written from the
capability, never from any training or test file, and no model is trained on them.

`run_suite(english_suite(), predict)` scores any system that maps texts to labels (the shipped
bundles, VADER, TF-IDF + LR trained on the same mix as the English model: see bench.baselines).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

POS, NEU, NEG = "positive", "neutral", "negative"
NOT_NEG = (POS, NEU)


@dataclass(frozen=True)
class Case:
    capability: str
    text: str
    expected: tuple[str, ...]  # labels that pass


def _cases(capability: str, texts: Iterable[str], expected: Sequence[str]) -> list[Case]:
    return [Case(capability, text, tuple(expected)) for text in texts]


def _fill(template: str, **slots: Sequence[str]) -> list[str]:
    keys = list(slots)
    return [
        template.format(**dict(zip(keys, v, strict=True)))
        for v in zip(*slots.values(), strict=False)
    ]


# fillers, paired position by position (zip), so each template yields len(...) cases
THINGS = (
    "the movie", "the food", "the service", "this phone", "the hotel", "the staff",
    "the app", "this book", "the flight", "the pizza", "the update", "the camera",
)  # fmt: skip
GOOD = (
    "good", "great", "excellent", "amazing", "wonderful", "fantastic",
    "lovely", "perfect", "brilliant", "enjoyable", "awesome", "delightful",
)  # fmt: skip
BAD = (
    "bad", "terrible", "awful", "horrible", "poor", "disappointing",
    "boring", "lousy", "dreadful", "frustrating", "useless", "rubbish",
)  # fmt: skip
OTHER_THINGS = THINGS[3:] + THINGS[:3]


def negation() -> list[Case]:
    good_negated = [
        *_fill("{t} was not {a}.", t=[t.capitalize() for t in THINGS], a=GOOD),
        *_fill("I don't think {t} is {a}.", t=THINGS[:6], a=GOOD[6:]),
        *_fill("{t} wasn't {a} at all.", t=[t.capitalize() for t in THINGS[6:]], a=GOOD[:6]),
        "I can't say I enjoyed it.", "I would never recommend this place.",
        "Not worth the money.", "Nothing about it was good.",
    ]  # fmt: skip
    bad_negated = [
        *_fill("{t} was not {a}.", t=[t.capitalize() for t in THINGS[:8]], a=BAD[:8]),
        "Not bad at all!", "It wasn't bad, actually.", "I don't hate it.",
        "The food was not bad at all.", "Never had a problem with it.",
        "No complaints here.", "Can't complain.", "Not disappointed at all.",
    ]  # fmt: skip
    return [*_cases("negation", good_negated, [NEG]), *_cases("negation", bad_negated, NOT_NEG)]


def intensifiers_and_hedges() -> list[Case]:
    strong = ("really", "very", "extremely", "incredibly", "absolutely", "so")
    hedge = ("somewhat", "a bit", "kind of", "fairly", "slightly", "a little")
    up = [
        f"{t.capitalize()} was {s} {a}." for t, s, a in zip(THINGS, strong * 2, GOOD, strict=True)
    ]
    down = [
        f"{t.capitalize()} was {s} {a}." for t, s, a in zip(THINGS, strong * 2, BAD, strict=True)
    ]
    hedged_up = [
        f"{t.capitalize()} was {h} {a}." for t, h, a in zip(THINGS[:6], hedge, GOOD, strict=False)
    ]
    hedged_down = [
        f"{t.capitalize()} was {h} {a}." for t, h, a in zip(THINGS[6:], hedge, BAD, strict=False)
    ]
    return [
        *_cases("intensifiers and hedges", up, [POS]),
        *_cases("intensifiers and hedges", down, [NEG]),
        *_cases("intensifiers and hedges", hedged_up, [POS, NEU]),
        *_cases("intensifiers and hedges", hedged_down, [NEG, NEU]),
    ]


def contrast() -> list[Case]:
    turns_bad = _fill("{t} was {g} but {o} was {b}.", t=THINGS, g=GOOD, o=OTHER_THINGS, b=BAD)
    turns_good = _fill("{t} was {b}, but {o} was {g}.", t=THINGS, b=BAD, o=OTHER_THINGS, g=GOOD)
    expected_bad = _fill("I thought {t} would be {b}, but it was {g}.", t=THINGS[:6], b=BAD, g=GOOD)
    expected_good = _fill("I expected {t} to be {g}, but it was {b}.", t=THINGS[6:], g=GOOD, b=BAD)
    return [
        *_cases("contrast", [t[0].upper() + t[1:] for t in turns_bad], [NEG]),
        *_cases("contrast", [t[0].upper() + t[1:] for t in turns_good], [POS]),
        *_cases("contrast", expected_bad, [POS]),
        *_cases("contrast", expected_good, [NEG]),
    ]


HAPPY = ("😍", "😊", "😁", "❤️", "👍", "😀", "🎉", "😃", "💕", "👏", "🙌", "🥰")
ANGRY = ("😡", "😠", "😢", "👎", "💔", "😞", "😤", "😒", "😔", "😣", "😫", "🤬")
EVENTS = (
    "Just got my order", "Monday morning again", "The new season starts tonight",
    "My flight is at 6am", "Got the test results", "Finally home",
    "Reading the reviews now", "The train is here", "Day three of the trip",
    "New phone arrived", "Meeting moved to Friday", "Back at work",
)  # fmt: skip


def emoji() -> list[Case]:
    alone = [*_cases("emoji", HAPPY, [POS]), *_cases("emoji", ANGRY, [NEG])]
    doubled = [*_cases("emoji", [e * 2 for e in HAPPY[:6]], [POS])]
    doubled += _cases("emoji", [e * 2 for e in ANGRY[:6]], [NEG])
    in_text = [
        *_cases("emoji", [f"{s} {e}" for s, e in zip(EVENTS, HAPPY, strict=True)], [POS]),
        *_cases("emoji", [f"{s} {e}" for s, e in zip(EVENTS, ANGRY, strict=True)], [NEG]),
    ]
    return alone + doubled + in_text


def elongation_and_typos() -> list[Case]:
    longer = [
        "This is sooo good", "I loooove it", "Sooooo happy right now", "Best day everrrr",
        "Yesssss finally", "Soooo excited", "This is soooo bad", "Noooo not again",
        "Ughhhh worst day", "Sooo boring", "I'm sooo done with this", "Whyyyy is it broken",
    ]  # fmt: skip
    typos = [
        "The food was amazng", "Absolutley loved it", "Greta service, thank you",
        "Very god experience", "Exellent value", "The staff was wonderfull",
        "Terible service", "Horible experience", "The app is uselss",
        "Dissapointing ending", "Awfull customer support", "What a waist of money",
    ]  # fmt: skip
    return [
        *_cases("elongation and typos", longer[:6], [POS]),
        *_cases("elongation and typos", longer[6:], [NEG]),
        *_cases("elongation and typos", typos[:6], [POS]),
        *_cases("elongation and typos", typos[6:], [NEG]),
    ]


def capitals() -> list[Case]:
    shouting_good = [f"{t} WAS {a}!".upper() for t, a in zip(THINGS, GOOD, strict=True)]
    shouting_bad = [f"{t} WAS {a}!".upper() for t, a in zip(THINGS, BAD, strict=True)]
    return [
        *_cases("all caps", shouting_good, [POS]),
        *_cases("all caps", shouting_bad, [NEG]),
        *_cases("all caps", ["I LOVE IT", "BEST PURCHASE EVER", "SO HAPPY"], [POS]),
        *_cases("all caps", ["WORST SERVICE EVER", "I HATE THIS", "NEVER AGAIN"], [NEG]),
    ]


def mentions_and_links() -> list[Case]:
    good = _fill("@{u} {t} was {a}", u=("delta", "amazon", "nike") * 4, t=THINGS, a=GOOD)
    bad = _fill("@{u} {t} was {a}", u=("united", "comcast", "uber") * 4, t=THINGS, a=BAD)
    linked_good = [f"{t.capitalize()} was {a} https://t.co/x{i}Yz" for i, (t, a) in enumerate(
        zip(THINGS[:6], GOOD[6:], strict=True))]  # fmt: skip
    linked_bad = [f"{t.capitalize()} was {a} http://bit.ly/{i}qW" for i, (t, a) in enumerate(
        zip(THINGS[6:], BAD[6:], strict=True))]  # fmt: skip
    return [
        *_cases("mentions and links", good, [POS]),
        *_cases("mentions and links", bad, [NEG]),
        *_cases("mentions and links", linked_good, [POS]),
        *_cases("mentions and links", linked_bad, [NEG]),
    ]


def neutral_facts() -> list[Case]:
    subjects = ("The package", "My order", "The train", "The meeting", "The store", "The bus")
    verbs = ("arrived", "was shipped", "leaves", "starts", "opens", "comes")
    times = ("on Tuesday", "yesterday", "at 9 am", "at 3 pm", "tomorrow", "every hour")
    facts = [f"{s} {v} {t}." for s, v, t in zip(subjects, verbs, times, strict=True)]
    facts += [
        f"{s} {v} {t}."
        for s, v, t in zip(subjects, verbs[::-1], times[2:] + times[:2], strict=False)
    ]
    facts += [
        "The office is on the second floor.", "I am reading a book.", "It is 20 degrees outside.",
        "The report has ten pages.", "She moved to Berlin last year.", "The phone has two cameras.",
        "The hotel is near the station.", "We ordered two pizzas.", "The film is two hours long.",
        "The app was updated this morning.", "I will call you later.", "The flight lands at noon.",
    ]  # fmt: skip
    return _cases("neutral statements", facts, [NEU])


def short_answers() -> list[Case]:
    return [
        *_cases("short answers", ["love it", "great", "perfect", "yay", "awesome", "so good",
                                  "thank you!", "loved it", "amazing", "nice one"], [POS]),
        *_cases("short answers", ["awful", "hate it", "ugh", "terrible", "worst", "so bad",
                                  "rubbish", "not good", "nope, broken", "waste of money"], [NEG]),
        *_cases("short answers", ["meh", "so-so", "not great", "could be better"], [NEG, NEU]),
        *_cases("short answers", ["not bad", "fine", "ok", "it's okay"], NOT_NEG),
        *_cases("short answers", ["It was okay I guess", "The fries were great too.",
                                  "I love my new phone"], [NEU, POS]),
    ]  # fmt: skip


def english_suite() -> list[Case]:
    parts = (
        negation, intensifiers_and_hedges, contrast, emoji, elongation_and_typos,
        capitals, mentions_and_links, neutral_facts, short_answers,
    )  # fmt: skip
    return [case for part in parts for case in part()]


def korean_suite() -> list[Case]:
    """The capabilities that apply to a binary Korean model (no neutral class)."""
    good = ("재미있어요", "좋았어요", "최고예요", "감동적이에요", "훌륭해요", "만족해요")
    bad = ("재미없어요", "별로예요", "최악이에요", "지루해요", "실망했어요", "형편없어요")
    things = ("영화가", "배송이", "음식이", "배우들 연기가", "이 제품이", "서비스가")
    negated_good = [
        "영화가 재미있지 않았어요",
        "별로 좋지 않았어요",
        "전혀 만족스럽지 않아요",
        "다시는 안 볼 거예요",
        "추천하고 싶지 않아요",
        "기대만큼 좋지는 않았다",
    ]
    negated_bad = [
        "나쁘지 않았어요",
        "생각보다 지루하지 않았어요",
        "실망하지 않았어요",
        "전혀 아깝지 않아요",
        "후회하지 않아요",
        "불만 없어요",
    ]
    return [
        *_cases("vocabulary", [f"{t} {g}" for t, g in zip(things, good, strict=True)], [POS]),
        *_cases("vocabulary", [f"{t} {b}" for t, b in zip(things, bad, strict=True)], [NEG]),
        *_cases("negation", negated_good, [NEG]),
        *_cases("negation", negated_bad, [POS]),
        *_cases(
            "contrast",
            [
                f"{t} 좋았지만 {o} 최악이었어요"
                for t, o in zip(things, things[1:] + things[:1], strict=True)
            ],
            [NEG],
        ),
        *_cases(
            "contrast",
            [
                f"{t} 별로였지만 {o} 정말 좋았어요"
                for t, o in zip(things, things[1:] + things[:1], strict=True)
            ],
            [POS],
        ),
        *_cases("short answers", ["최고", "대박", "강추", "굿", "좋아요", "완전 좋음"], [POS]),
        *_cases("short answers", ["최악", "별로", "노잼", "비추", "실망", "돈 아까움"], [NEG]),
    ]


Predict = Callable[[list[str]], list[str]]  # texts -> predicted label names


@dataclass
class CapabilityResult:
    capability: str
    passed: int
    total: int
    failures: list[tuple[str, str]]  # (text, predicted)

    @property
    def rate(self) -> float:
        return self.passed / self.total


def run_suite(cases: Sequence[Case], predict: Predict) -> list[CapabilityResult]:
    """Pass rate per capability, in the suite's order."""
    predicted = predict([c.text for c in cases])
    results: list[CapabilityResult] = []
    grouped = itertools.groupby(zip(cases, predicted, strict=True), key=lambda p: p[0].capability)
    for capability, pairs in grouped:
        pairs = list(pairs)
        failures = [(c.text, p) for c, p in pairs if p not in c.expected]
        results.append(
            CapabilityResult(capability, len(pairs) - len(failures), len(pairs), failures)
        )
    return results
