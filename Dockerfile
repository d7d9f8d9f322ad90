# The CPU image of the sentiment service (the default: `docker build -t sentiment-service .`).
# Dockerfile.gpu (CUDA) and Dockerfile.train (torch) are separate files because the classic
# builder, the one this project's CI has, builds every stage before the target: a GPU or torch
# stage here would be built (and its base pulled) for every CPU build. Classic-builder syntax only.
# Installs use `-c constraints.txt`: the same locked versions as `make run` and `make test`.
ARG PYTHON_IMAGE=python:3.11-slim

# builder: the service's dependencies in /opt/venv; the final stage copies the venv only, so pip,
# setuptools and anything a build needs stay behind.
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /build
# binutils (builder only) strips the debug sections that uvloop's and httptools' wheels ship
# (13 MB). Only theirs: stripping libraries that auditwheel patched (numpy's OpenBLAS) breaks
# them, which the import check below caught. The base image's Debian release picks the version.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends binutils \
 && rm -rf /var/lib/apt/lists/*
# Only the files that decide the dependency set: this layer is rebuilt when they change, not when
# the code does. The project is installed (to resolve its extras) and removed again; its code is
# copied as plain source below. What the service never runs goes too: huggingface_hub and its
# download stack (tokenizers needs them only for from_pretrained(); the service reads
# tokenizer.json from its bundles), uvicorn's extras for reloading, websockets and YAML log
# configs, ONNX Runtime's Python tooling (transformers, quantization, tools: sessions parse models
# in C++), numpy's build tools and C headers, type stubs (.pyi) and every test suite inside
# site-packages. protobuf stays: the gRPC service (app/v2/proto stubs, grpc_health) needs it.
# tokenizers' and sentencex's Rust extensions lose 3.4 and 1 MB without their unneeded symbols
# (their exported Python entry points stay; both checked to load and work stripped).
# ONNX Runtime's wheel also ships its C API library (capi/libonnxruntime.so.*, 35 MB) for
# programs that link it; the Python binding has the whole runtime inside and never loads it
# (its NEEDED entries are libc, libstdc++ and friends; a serving process maps no
# libonnxruntime.so), and the import check below opens a real session without it.
COPY pyproject.toml constraints.txt ./
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install -c constraints.txt '.[serve]' \
 && /opt/venv/bin/pip uninstall -y \
      huggingface_hub hf-xet fsspec httpx2 httpcore2 truststore filelock tqdm \
      watchfiles websockets pyyaml \
      sentiment-service setuptools pip \
 && site=$(/opt/venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') \
 && rm -rf "$site"/onnxruntime/transformers "$site"/onnxruntime/quantization \
      "$site"/onnxruntime/tools "$site"/numpy/f2py "$site"/numpy/distutils \
      "$site"/numpy/_core/include "$site"/onnxruntime/capi/libonnxruntime.so.* \
 && find /opt/venv -depth -type d -name tests -path '*/site-packages/*' -exec rm -rf {} + \
 && find "$site" -name '*.pyi' -delete \
 && find "$site"/uvloop "$site"/httptools -name '*.so' -exec strip --strip-debug {} + \
 && find "$site"/tokenizers "$site"/sentencex -name '*.so' -exec strip --strip-unneeded {} +

# cpu (the last stage, so the default target): the service, its venv and the bundled models; no
# torch, no compilers, no pip. An unprivileged numeric user (Kubernetes' runAsNonRoot can check
# it). Exec-form CMD: `python -m app` is PID 1 and gets SIGTERM itself, so /ready turns 503, it
# serves for SENTIMENT_DRAIN_SECONDS, answers everything queued and exits 0.
FROM ${PYTHON_IMAGE} AS cpu
# ORT_DISABLE_TELEMETRY: ONNX Runtime 1.32 on Linux otherwise sets up telemetry uploads and tries
# to store a device id under $HOME (a non-JSON warning in the logs on a read-only file system).
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    ORT_DISABLE_TELEMETRY=1 \
    SENTIMENT_HOST=0.0.0.0 \
    SENTIMENT_PORT=8000 \
    SENTIMENT_GRPC_PORT=8001
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin app
COPY --from=builder /opt/venv /opt/venv
WORKDIR /srv
# Code and models stay root-owned: the service user reads them and cannot change them. Bytecode
# is compiled now, since a read-only root file system leaves Python nowhere to write it; the
# import check fails the build if the slimmed venv lacks anything the service imports.
COPY app/ app/
COPY model/ model/
RUN python -m compileall -q app model \
 && python -c 'import app.main, app.v2.grpc_server, tokenizers, onnxruntime as ort; ort.InferenceSession("model/bundles/sentiment-en/model.onnx")'
USER 10001:10001
# 8000: HTTP (REST, probes, /metrics); 8001: gRPC (KServe v2 inference and gRPC health)
EXPOSE 8000 8001
# No curl in the slim image: python's urllib, exec form. urlopen raises on 503 (loading, or
# draining after SIGTERM), so the check fails until every model is loaded and warm.
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('SENTIMENT_PORT', '8000') + '/ready', timeout=2)"]
CMD ["python", "-m", "app"]
