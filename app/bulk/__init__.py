"""Bulk scoring of files: `python -m app.bulk INPUT OUTPUT` (see docs/deployment.md).

The same bundle loading, tokenizer, batcher and ONNX Runtime session as the service, without HTTP.
Every contact with the service's internals goes through `app.bulk.scorer`; the rest of this
package knows files (formats), progress (resume, progress bar) and Ray (ray_runner).
"""
