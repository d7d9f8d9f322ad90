"""One short text per request through each way into the service, side by side in one run:
`/predict`, `/predict` with TEI's body (`{"inputs": text}`), v2 REST with a JSON body, v2 REST
with a binary tensor body (Triton's extension) and v2 gRPC, each at 1, 16 and 64 concurrent
callers against one `python -m app` on 127.0.0.1.

    python -m bench protocols [--seconds 5] [--requests 3000]

The callers are asyncio tasks in this process (httpx for REST, grpc.aio for gRPC), on the same
2 CPUs as the server, so the figures compare the protocols with each other; `bench load` (wrk,
a C client) gives the service's own ceiling. Every loop is bounded in requests and in time.
Writes bench/results/protocols.json.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import struct
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import grpc
import httpx
import numpy as np

from app.v2.proto import grpc_predict_v2_pb2 as pb2
from app.v2.proto.grpc_predict_v2_pb2_grpc import GRPCInferenceServiceStub
from bench.common import RESULTS
from bench.servers.launch import ServerSpec, free_port, running_server

REPO = Path(__file__).resolve().parents[1]
MODEL = "sentiment-en"
CONCURRENCY = (1, 16, 64)
Call = Callable[[str], Awaitable[None]]


def sst2_texts(data_dir: Path, count: int = 500) -> list[str]:
    with gzip.open(data_dir / "sst2" / "sent_test.tsv.gz", "rt", encoding="utf-8") as handle:
        rows = [line.rstrip("\n").split("\t") for line in handle][1:]
    return [row[-1] for row in rows[:count]]


def binary_body(text: str) -> tuple[bytes, dict[str, str]]:
    raw = text.encode()
    element = struct.pack("<I", len(raw)) + raw
    tensor = {"name": "text", "shape": [1], "datatype": "BYTES"}
    tensor["parameters"] = {"binary_data_size": len(element)}
    header = json.dumps({"inputs": [tensor]}).encode()
    return header + element, {"Inference-Header-Content-Length": str(len(header))}


def rest_calls(client: httpx.AsyncClient) -> dict[str, Call]:
    infer = f"/v2/models/{MODEL}/infer"

    async def predict(text: str) -> None:
        (await client.post("/predict", json={"text": text})).raise_for_status()

    async def tei(text: str) -> None:  # Hugging Face TEI's classification body, same route
        (await client.post("/predict", json={"inputs": text})).raise_for_status()

    async def v2_json(text: str) -> None:
        tensor = {"name": "text", "shape": [1], "datatype": "BYTES", "data": [text]}
        (await client.post(infer, json={"inputs": [tensor]})).raise_for_status()

    async def v2_binary(text: str) -> None:
        body, headers = binary_body(text)
        (await client.post(infer, content=body, headers=headers)).raise_for_status()

    return {
        "/predict": predict,
        "/predict TEI": tei,
        "v2 REST JSON": v2_json,
        "v2 REST binary": v2_binary,
    }


def grpc_call(stub: GRPCInferenceServiceStub) -> Call:
    async def infer(text: str) -> None:
        raw = text.encode()
        tensor = pb2.ModelInferRequest.InferInputTensor(name="text", datatype="BYTES", shape=[1])
        request = pb2.ModelInferRequest(
            model_name=MODEL,
            inputs=[tensor],
            raw_input_contents=[struct.pack("<I", len(raw)) + raw],
        )
        await stub.ModelInfer(request)

    return infer


async def measure(call: Call, texts: list[str], callers: int, budget: tuple[int, float]) -> dict:
    """Requests from `callers` tasks until `budget` (requests, seconds) runs out."""
    most, seconds = budget
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def caller(offset: int) -> None:
        for i in range(offset, most, callers):
            if time.perf_counter() > deadline:
                return
            started = time.perf_counter()
            await call(texts[i % len(texts)])
            latencies.append(time.perf_counter() - started)

    for text in texts[:20]:
        await call(text)  # warm-up
    started = time.perf_counter()
    await asyncio.gather(*(caller(c) for c in range(callers)))
    wall = time.perf_counter() - started
    ms = np.array(latencies) * 1e3
    return {
        "callers": callers,
        "requests": len(latencies),
        "req_per_s": len(latencies) / wall,
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
    }


async def run_all(http: str, grpc_port: int, texts: list[str], budget: tuple[int, float]) -> dict:
    results: dict[str, list[dict]] = {}
    limits = httpx.Limits(max_connections=max(CONCURRENCY))
    async with (
        httpx.AsyncClient(base_url=http, limits=limits, timeout=30) as client,
        grpc.aio.insecure_channel(f"127.0.0.1:{grpc_port}") as channel,
    ):
        calls = {**rest_calls(client), "v2 gRPC": grpc_call(GRPCInferenceServiceStub(channel))}
        for name, call in calls.items():
            for callers in CONCURRENCY:
                row = await measure(call, texts, callers, budget)
                results.setdefault(name, []).append(row)
                print(
                    f"{name:15} c={callers:3}: {row['req_per_s']:8.1f} req/s  "
                    f"p50 {row['p50_ms']:6.2f}  p99 {row['p99_ms']:6.2f} ms",
                    flush=True,
                )
    return results


def server_spec() -> ServerSpec:
    env = {"SENTIMENT_GRPC_PORT": str(free_port()), "SENTIMENT_MODELS": MODEL}
    env |= {"SENTIMENT_ACCESS_LOG": "false", "SENTIMENT_LOG_LEVEL": "WARNING"}
    return ServerSpec("protocols", [sys.executable, "-m", "app"], env)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench protocols", description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--seconds", type=float, default=5.0, help="per protocol and point")
    parser.add_argument("--requests", type=int, default=3000, help="at most, per point")
    args = parser.parse_args()
    spec = server_spec()
    grpc_port = int(spec.env["SENTIMENT_GRPC_PORT"])
    texts = sst2_texts(args.data_dir)
    with running_server(spec) as server:
        results = asyncio.run(run_all(server.url, grpc_port, texts, (args.requests, args.seconds)))
    load = os.getloadavg()[0]
    path = RESULTS / "protocols.json"
    path.write_text(json.dumps({"model": MODEL, "load_1min": load, "results": results}, indent=2))
    print(f"wrote {path} (load average {load:.2f})")


if __name__ == "__main__":
    main()
