"""Online half of the sentiment service: FastAPI + ONNX Runtime serving model bundles.

Nothing in this package imports `training/` or torch; the `model` package is the only contract.
"""

__version__ = "1.0.0"
