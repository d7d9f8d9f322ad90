"""`"model": "auto"`: each text to the served model of its language, then scored by model.

A text's language comes from `app.core.language`; the served languages from the loaded bundles'
manifests (`language`), read per request, so a model loaded or unloaded through
`/v2/repository` is routed to at once. Two models of one language: the default model if it is
one of them, else the first by name. A text with no letters (`und`) goes to the default model,
the documented fallback. A text in a language no model serves gets a per-text error, never
another language's model.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from app.core.context import StageTimes
from app.core.language import NON_LATIN_LANGUAGES, UNDETERMINED, LanguageIdentifier
from app.core.registry import AUTO, ModelRegistry
from app.core.worker import Classified, ModelWorker, Scored

__all__ = ["AUTO", "NOT_SERVED", "LanguageRouter", "Route", "Routed", "classify_routed"]
NOT_SERVED = "language_not_served"


@dataclass(frozen=True, slots=True)
class Route:
    """Where one text goes: its language, and the model that reads it or why none does."""

    language: str
    model: ModelWorker | None
    error: str | None = None


@dataclass(slots=True)
class Routed:
    """A request's answers in input order: per text its route and, when routed, its score."""

    routes: list[Route]
    scored: list[Scored | None]
    times: StageTimes


def models_by_language(registry: ModelRegistry) -> dict[str, ModelWorker]:
    chosen: dict[str, ModelWorker] = {}
    for name in sorted(registry.models):
        model = registry.models[name]
        language = model.bundle.manifest.language
        if language not in chosen or name == registry.default:
            chosen[language] = model
    return chosen


class LanguageRouter:
    def __init__(self, identifier: LanguageIdentifier | None = None) -> None:
        self.identifier = identifier or LanguageIdentifier()

    def routes(self, registry: ModelRegistry, texts: Sequence[str]) -> list[Route]:
        served = models_by_language(registry)
        latin = frozenset(served) - NON_LATIN_LANGUAGES
        return [self._route(registry, served, latin, i, text) for i, text in enumerate(texts)]

    def _route(
        self,
        registry: ModelRegistry,
        served: dict[str, ModelWorker],
        latin: frozenset[str],
        index: int,
        text: str,
    ) -> Route:
        found = self.identifier.identify(text, latin)
        if found.language == UNDETERMINED:
            return Route(UNDETERMINED, registry.get(None))
        model = served.get(found.language)
        if model is not None:
            return Route(found.language, model)
        return Route(
            found.language,
            None,
            f"texts[{index}] reads as language {found.language!r} (script {found.script}); no "
            f"served model reads it (served: {sorted(served)}). Name a model to score it anyway",
        )


# (model, its texts) -> their answers; the service's classify with the request's options bound
Classify = Callable[[ModelWorker, list[str]], Awaitable[Classified]]


async def classify_routed(routes: list[Route], texts: Sequence[str], classify: Classify) -> Routed:
    """Score each model's texts as one request to that model, the models side by side."""
    groups: dict[str, list[int]] = {}
    models: dict[str, ModelWorker] = {}
    for i, route in enumerate(routes):
        if route.model is not None:
            groups.setdefault(route.model.name, []).append(i)
            models[route.model.name] = route.model
    results = await asyncio.gather(
        *(classify(models[name], [texts[i] for i in rows]) for name, rows in groups.items())
    )
    scored: list[Scored | None] = [None] * len(texts)
    times = StageTimes()
    for rows, result in zip(groups.values(), results, strict=True):
        for i, item in zip(rows, result.scored, strict=True):
            scored[i] = item
        times.tokenization = max(times.tokenization, result.times.tokenization)
        times.queue = max(times.queue, result.times.queue)
        times.inference = max(times.inference, result.times.inference)
    return Routed(routes, scored, times)
