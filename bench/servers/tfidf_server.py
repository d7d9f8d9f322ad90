"""TF-IDF + logistic regression (fitted on the model's training file, cached under
bench/results/tmp) served the same way as the service: the same FastAPI stack
(the /predict endpoint and its parser, request-context and body-limit middleware, error table,
access log, metrics) and the same dynamic batcher, with scikit-learn in place of ONNX Runtime.
Answers `{"model", "predictions": [{"label", "score", "probabilities"}]}`.

    python -m bench.servers.tfidf_server --model sentiment-en --port 8002 [--processes 2]

`--processes N` runs N copies on the port (uvicorn's workers), to compare with the service's
`SENTIMENT_PROCESSES=N` process for process.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI
from fastapi.responses import Response

from app.core.batcher import Batcher, BatchLimits
from app.core.context import RequestContext
from app.core.limits import TextLimits, check_texts
from app.core.settings import Settings
from app.core.waiting import Disconnected, gather_entries
from app.http.error_handlers import install_error_handlers
from app.http.middleware import BodyLimitMiddleware, RequestContextMiddleware
from app.http.responses import JSONBytesResponse
from app.http.routes.predict import PREDICT_PATH, PredictEndpoint
from app.http.schemas import PredictRequest
from app.ops.logs import configure_logging
from app.ops.metrics import Metrics
from bench.common import DEFAULT_DATA, SCRATCH, read_train_set

LABELS = ["negative", "positive"]

# word 1-2-grams for English; character 1-3-grams for Korean (no word segmentation needed):
# the settings that measured 90.6 (IMDB) and 87.2 (NSMC) on the official test splits
TFIDF_OPTIONS = {
    "sentiment-en": {"ngram_range": (1, 2), "min_df": 2, "max_df": 0.9},
    "sentiment-ko": {"analyzer": "char_wb", "ngram_range": (1, 3), "min_df": 2},
}


def tfidf_pipeline(model: str) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    vectorizer = TfidfVectorizer(sublinear_tf=True, **TFIDF_OPTIONS[model])
    return make_pipeline(vectorizer, LogisticRegression(C=4.0, max_iter=1000, solver="liblinear"))


def tfidf_path(model: str, limit: int | None) -> Path:
    return SCRATCH / "baselines" / f"tfidf-{model}-{limit or 'all'}.joblib"


def fitted_tfidf(model: str, data_dir: Path, limit: int | None = None) -> Any:
    """The pipeline fitted on the model's training file (cached); prints how long it took."""
    import joblib

    path = tfidf_path(model, limit)
    if path.is_file():
        return joblib.load(path)
    texts, labels = read_train_set(data_dir, model, limit)
    started = time.perf_counter()
    pipeline = tfidf_pipeline(model).fit(texts, labels)
    print(
        f"TF-IDF + LR for {model}: fitted on {len(texts)} texts in "
        f"{time.perf_counter() - started:.1f} s"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(pipeline, path)
    return pipeline


class TfidfService:
    def __init__(self, pipeline: Any, name: str, settings: Settings, metrics: Metrics) -> None:
        self.name, self.settings = name, settings
        self.limits = TextLimits(settings.max_texts, settings.max_text_chars)
        limits = BatchLimits(settings.max_batch_size, 10**9, 0.0, settings.max_queue)
        self.batcher = Batcher(
            lambda texts: pipeline.predict_proba(texts).tolist(),
            limits,
            name=name,
            on_batch=metrics.batch_observer(name),
        )

    async def answer(
        self, body: PredictRequest, context: RequestContext, disconnected: Disconnected
    ) -> JSONBytesResponse:
        texts = body.items
        check_texts(texts, self.limits)
        context.model = self.name
        deadline = self.batcher_deadline()
        entries = self.batcher.submit(texts, [len(t) for t in texts], deadline)
        probs = await gather_entries(entries, deadline)
        predictions = [
            {
                "label": LABELS[int(p[1] >= p[0])],
                "score": max(p),
                "probabilities": dict(zip(LABELS, p, strict=True)),
            }
            for p in probs
        ]
        return JSONBytesResponse({"model": self.name, "predictions": predictions})

    def batcher_deadline(self) -> float:
        return time.monotonic() + self.settings.request_timeout_s


def create_app(pipeline: Any, name: str) -> FastAPI:
    settings = Settings(log_level=os.environ.get("SENTIMENT_LOG_LEVEL", "INFO"))
    configure_logging(settings.log_level, settings.json_logs)
    metrics = Metrics()
    service = TfidfService(pipeline, name, settings, metrics)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service.batcher.start()
        yield
        await service.batcher.stop()

    app = FastAPI(lifespan=lifespan, default_response_class=JSONBytesResponse)
    install_error_handlers(app)

    @app.post(PREDICT_PATH)
    async def predict() -> JSONBytesResponse:
        raise AssertionError("answered by PredictEndpoint")  # pragma: no cover

    @app.get("/ready")
    async def ready() -> dict:
        return {"status": "ok"}

    @app.get("/metrics")
    async def prometheus() -> Response:
        return Response(metrics.render(), media_type="text/plain")

    route = next(r for r in app.router.routes if getattr(r, "path", None) == PREDICT_PATH)
    app.add_middleware(PredictEndpoint, answer=service.answer, routes={PREDICT_PATH: route})
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestContextMiddleware, metrics=metrics, access_log=settings.access_log)
    return app


FACTORY_ENV = "BENCH_TFIDF"  # "<model>:<data dir>" for the workers of --processes


def app_from_env() -> FastAPI:
    """The app of one worker under `--processes`: the pipeline the parent fitted and cached."""
    model, data_dir = os.environ[FACTORY_ENV].split(":", 1)
    return create_app(fitted_tfidf(model, Path(data_dir)), f"tfidf-{model}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="sentiment-en", help="whose training file to fit on")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--port", type=int, default=int(os.environ.get("BENCH_PORT", 8002)))
    parser.add_argument("--processes", type=int, default=1, help="copies serving the port")
    args = parser.parse_args()
    pipeline = fitted_tfidf(args.model, args.data_dir)  # fitted once, before any worker starts
    serving = {"host": "127.0.0.1", "port": args.port, "log_config": None, "access_log": False}
    if args.processes > 1:
        os.environ[FACTORY_ENV] = f"{args.model}:{args.data_dir}"
        target = "bench.servers.tfidf_server:app_from_env"
        uvicorn.run(target, factory=True, workers=args.processes, **serving)
    else:
        uvicorn.run(create_app(pipeline, f"tfidf-{args.model}"), **serving)


if __name__ == "__main__":
    main()
