"""Texts in, probabilities out: settings, the service and its models (registry, repository,
workers), batching, scoring and ONNX Runtime sessions, and the domain errors.

Nothing here knows HTTP or gRPC: `app.http` and `app.v2` call into it (tests/app/test_layout.py).
"""
