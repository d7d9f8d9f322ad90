"""The baseline a user would write from a tutorial: FastAPI, a pydantic body, the same LSTM in
PyTorch eager, one forward pass per request, no batching, the default JSON response.

The same weights as the service (read back from the bundle's fp32 graph) and the same tokenizer,
so only the serving differs. `--threads` sets torch's intra-op threads (default: torch's own).

    python -m bench.servers.naive_torch --bundle model/bundles/sentiment-en --port 8001
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import torch
import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel

from model import load_bundle
from model.text import TextEncoder
from training.onnx_import import load_torch_model


class PredictRequest(BaseModel):
    text: str


def create_app(bundle_dir: Path) -> FastAPI:
    bundle = load_bundle(bundle_dir)
    encoder = TextEncoder.from_file(bundle.tokenizer_path, bundle.manifest.truncation)
    model = load_torch_model(bundle_dir)
    labels = bundle.manifest.labels
    app = FastAPI()

    @app.get("/ready")
    def ready() -> dict:
        return {"status": "ok"}

    @app.post("/predict")
    def predict(request: PredictRequest) -> dict:
        ids = torch.tensor([encoder.encode(request.text).ids])
        with torch.no_grad():
            probs = torch.softmax(model(ids), dim=-1)[0].tolist()
        best = max(range(len(probs)), key=probs.__getitem__)
        return {"label": labels[best], "score": probs[best]}

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, default=Path("model/bundles/sentiment-en"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("BENCH_PORT", 8001)))
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    uvicorn.run(create_app(args.bundle), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
