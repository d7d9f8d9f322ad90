"""Typed service settings, read from environment variables with one prefix, `SENTIMENT_`.

Built inside `create_app()` (never at import) and passed down, so tests can build many apps with
different settings in one process.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# <repo>/model/bundles, resolved from this file so the default works from any working directory
DEFAULT_MODEL_DIR = Path(__file__).resolve().parents[2] / "model" / "bundles"


class Settings(BaseSettings):
    # hide_input_in_errors: a whole-model check's error would print every input, the keys too
    model_config = SettingsConfigDict(
        env_prefix="SENTIMENT_", extra="forbid", frozen=True, hide_input_in_errors=True
    )

    # --- models ---
    model_dir: Path = DEFAULT_MODEL_DIR  # folder of bundles, one sub-folder each
    default_model: str = "sentiment-en"  # used when a request names none; else the first bundle
    models: Annotated[list[str], NoDecode] = []  # comma list of names to serve; [] = every bundle
    variant: Literal["fp32", "int8"] | None = None  # None = each bundle's default_variant
    # bundles with a cascade answer confident texts from their fast graph; false = full graph only
    cascade: bool = True
    # --- runtime ---
    providers: Literal["auto", "cpu", "cuda"] = "auto"  # auto = CUDA when usable, else CPU
    # None = the CPUs this process may use minus one for the event loop and tokenizer (at least 1).
    # On 2 CPUs 1 thread beat 2 both for batch-1 latency (0.90 vs 1.37 ms p50, IMDB review) and
    # for batches (939 vs 764 seq/s at 32x256), and ORT at 2 threads swung 3x between runs.
    intra_op_threads: int | None = Field(default=None, ge=1)
    inter_op_threads: int = Field(default=1, ge=1)  # graphs here are one chain: no parallel ops
    ort_spinning: bool = False  # idle ORT threads spin-wait; with 2 threads this halved throughput
    # One text alone in the process, of at least split_min_tokens tokens, runs its BiLSTM's two
    # directions on two CPUs (app/core/direction_split.py; same logits, bit for bit). The graph
    # alone on one IMDB review (`python -m bench directions`): p50 0.71x (fp32) and 0.74x (int8),
    # p99 0.66x / 0.68x; at 32 tokens the hand-off to the second thread costs what it saves, or
    # more (int8 1.18x), and it adds ~0.3 ms to the p99 of short texts (docs/benchmarks.md).
    split_directions: bool = True
    split_min_tokens: int = Field(default=64, ge=1)
    # --- batching ---
    max_batch_size: int = Field(default=32, ge=1)  # texts per batch; 1 turns batching off
    max_batch_tokens: int = Field(default=8192, ge=1)  # padded tokens per batch (B x longest)
    max_wait_ms: float = Field(default=0.0, ge=0)  # 0 = take what is queued, never wait
    max_queue: int = Field(default=1024, ge=1)  # queued texts per model before 429
    # Batches of one model run at once, each on its own thread (ORT sessions allow concurrent
    # runs). None = CPUs // intra-op threads, so that together they can use every CPU: on 2
    # quiet CPUs 2 workers x 1 thread served 1.43x the IMDB reviews/s of 1 worker at 64
    # connections and 1.14x the short texts, with a lower p99 (docs/benchmarks.md).
    batch_workers: int | None = Field(default=None, ge=1)
    request_timeout_s: float = Field(default=10.0, gt=0)  # deadline per request, then 504
    # --- limits ---
    max_text_chars: int = Field(default=20_000, ge=1)  # per text, else 413
    max_texts: int = Field(default=64, ge=1)  # per request, else 422
    max_body_bytes: int = Field(default=1_048_576, ge=1)  # per request body, else 413
    truncate: bool = True  # default for requests that do not say; false = 413 when too long
    # /explain scores one variant per word, so a text costs ~words x a /predict: tighter limits
    explain_max_texts: int = Field(default=8, ge=1)  # texts per /explain request, else 422
    explain_max_tokens: int = Field(default=512, ge=1)  # model tokens per text, else 413
    # per-sentence analysis (`"sentences": true`): every sentence is one more row in the batch
    max_sentences: int = Field(default=64, ge=1)  # sentences per text, else 413
    max_request_sentences: int = Field(default=512, ge=1)  # sentences per request, else 413
    # mixed_score from which a text is `mixed`; None = the threshold calibrated for the bundle's
    # language (app.core.sentence_scoring.MIXED_THRESHOLDS, docs/sentences.md)
    mixed_threshold: float | None = Field(default=None, ge=0, le=1)
    # --- security ---
    api_key: SecretStr | None = None  # when set: `Authorization: Bearer <key>` on all but probes
    metrics_require_key: bool = False  # also require the key on /metrics
    cors_origins: Annotated[list[str], NoDecode] = []  # comma list; [] = CORS off
    # /v2/repository (index, load, unload) and gRPC RepositoryModelLoad/Unload: off = 403 /
    # PERMISSION_DENIED to everyone (a load re-verifies and warms a bundle: CPU for any caller)
    model_control: bool = False
    # `Authorization: Bearer <key>` on the control routes; required when model_control is on
    admin_key: SecretStr | None = None
    # --- operations ---
    log_level: str = "INFO"
    json_logs: bool = True  # one JSON object per line
    access_log: bool = True  # one line per request with status, timings and request id
    drain_seconds: float = Field(default=5.0, ge=0)  # after SIGTERM: serve while /ready is 503
    host: str = "127.0.0.1"  # set 0.0.0.0 in a container
    port: int = Field(default=8000, ge=0, le=65535)
    # server processes accepting on the one port (app/ops/supervisor.py), the CPUs divided between
    # them: the event loop's Python (HTTP, JSON, logging) then runs on more than one core.
    # Each process holds its own copy of the models (memory x N); readiness, /metrics and model
    # control span every process (app/ops/peers.py). 1 = one process, no supervisor.
    processes: int = Field(default=1, ge=1, le=64)
    # the KServe v2 gRPC service and gRPC health, same host, same models and batchers
    grpc_enabled: bool = True
    grpc_port: int = Field(default=8001, ge=0, le=65535)  # 8001 as in Triton
    # --- payload log (app/ops/payload_log.py): off unless a path is set ---
    # a sample of scored requests (/predict, v2 REST and gRPC), one JSONL line per text, for
    # relabelling and the next training run; written by a thread, never on the request path
    payload_log: Path | None = None  # the file; rotated files get .1, .2, ... beside it
    payload_log_sample: float = Field(default=0.1, ge=0, le=1)  # share of requests logged
    # text: the text itself; hash: its sha256 only (cannot be rescored); none: no text at all
    payload_log_text: Literal["text", "hash", "none"] = "hash"
    payload_log_max_bytes: int = Field(default=100_000_000, ge=1024)  # then the file rotates
    payload_log_backups: int = Field(default=5, ge=0)  # rotated files kept
    payload_log_queue: int = Field(default=10_000, ge=1)  # requests waiting; more are dropped

    @field_validator("models", "cors_origins", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"}:
            raise ValueError("log_level must be one of CRITICAL, ERROR, WARNING, INFO, DEBUG")
        return level

    @model_validator(mode="after")
    def _processes_share_fixed_ports(self) -> Settings:
        if self.processes > 1 and self.grpc_enabled and self.grpc_port == 0:
            raise ValueError(
                "SENTIMENT_PROCESSES > 1 needs a fixed SENTIMENT_GRPC_PORT (0 would give every "
                "process its own random port); set one, or SENTIMENT_GRPC_ENABLED=false"
            )
        return self

    @model_validator(mode="after")
    def _control_needs_its_own_key(self) -> Settings:
        if not self.model_control:
            return self
        admin = self.admin_key.get_secret_value() if self.admin_key is not None else ""
        if not admin:
            raise ValueError(
                "SENTIMENT_MODEL_CONTROL=true needs SENTIMENT_ADMIN_KEY: the repository routes "
                "load and unload models, so they never run without a key"
            )
        if self.api_key is not None and admin == self.api_key.get_secret_value():
            raise ValueError(
                "SENTIMENT_ADMIN_KEY must differ from SENTIMENT_API_KEY: every client holds the "
                "inference key, and the admin key is the one that can load and unload models"
            )
        return self

    @property
    def control_key(self) -> str | None:
        """The admin key the model-control routes take; None while control is off (refused)."""
        if not self.model_control or self.admin_key is None:
            return None
        return self.admin_key.get_secret_value()

    @property
    def graceful_timeout_s(self) -> float:
        """How long shutdown waits for in-flight requests: one full request deadline and a bit."""
        return self.request_timeout_s + 5.0
