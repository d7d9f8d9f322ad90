# The two commands (see README): `make run` serves the bundled models, `make test` runs the tests.
# Each sets up its own virtual environment on first use, with versions pinned by constraints.txt.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt

.PHONY: run test test-unit lint lock protos bench clean

run: $(VENV)/.serve  ## set up (first time) and start the service on http://127.0.0.1:8000
	$(PY) -m app

test: $(VENV)/.dev  ## set up (first time) and run the test suite (no GPU, no network needed)
	$(PY) -m pytest -m "not docker"

test-unit: $(VENV)/.dev  ## the unit tier: no torch, no ../shared/data, under 20 s
	$(PY) -m pytest -m unit -n auto -q

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

$(VENV)/.serve: pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) -e '.[serve]'
	touch $@

$(VENV)/.dev: pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) -e '.[dev]'
	touch $@ $(VENV)/.serve

# The gRPC stubs in app/v2/proto and the ONNX messages in app/core/proto are committed; regenerate them after editing the .proto. protoc
# writes `import grpc_predict_v2_pb2`, a top-level import: sed makes it the package's.
PROTO_DIR := app/v2/proto
protos: $(VENV)/.dev
	cd $(PROTO_DIR) && $(abspath $(PY)) -m grpc_tools.protoc -I . --python_out=. --pyi_out=. \
	  --grpc_python_out=. grpc_predict_v2.proto
	sed -i 's/^import grpc_predict_v2_pb2 as/from app.v2.proto import grpc_predict_v2_pb2 as/' \
	  $(PROTO_DIR)/grpc_predict_v2_pb2_grpc.py
	cd app/core/proto && $(abspath $(PY)) -m grpc_tools.protoc -I . --python_out=. --pyi_out=. \
	  onnx_graph.proto

# Regenerate constraints.txt from a fresh venv: the lock must hold the CPU torch build and no
# nvidia-*/CUDA package (the local label `+cpu` is dropped so the pin also matches PyPI's spelling).
LOCK_VENV ?= /tmp/sentiment-lock-venv
lock:
	rm -rf $(LOCK_VENV) && $(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/pip install --quiet --disable-pip-version-check -e '.[dev]'
	grep '^#' constraints.txt >constraints.new
	$(LOCK_VENV)/bin/pip freeze --exclude-editable | sed -E 's/^(torch==[^+]+)\+cpu$$/\1/' >>constraints.new
	grep -q '^torch==' constraints.new && ! grep -iqE '^(nvidia-|cuda|triton)' constraints.new
	mv constraints.new constraints.txt && rm -rf $(LOCK_VENV)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
