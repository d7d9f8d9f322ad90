"""Triton's binary tensor data extension of the Open Inference Protocol, as bytes in and out.

A request body is a JSON header of `Inference-Header-Content-Length` bytes followed by the raw
tensors, in input order, each input saying its size in `parameters.binary_data_size`. BYTES
tensors are elements each prefixed by their length, 4 bytes little-endian; FP32 tensors are
little-endian floats, row-major. Answers use the same layout for the outputs asked for in binary
(`parameters.binary_data_output` for all, or `binary_data` per output). The same element codec
serves gRPC's `raw_input_contents` and `raw_output_contents`.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from typing import Any

import numpy as np

from app.core.errors import InvalidInput, MalformedBody

HEADER = "inference-header-content-length"
EXTENSION = "binary_tensor_data"
_LENGTH = struct.Struct("<I")


def split_body(body: bytes, header_length: str) -> tuple[bytes, bytes]:
    """(JSON header, binary tail) of a body whose header says how long its JSON part is."""
    if not header_length.isdigit():
        raise MalformedBody(f"{HEADER} must be a byte count, got {header_length!r}")
    size = int(header_length)
    if size > len(body):
        raise MalformedBody(f"{HEADER} is {size} but the body has only {len(body)} bytes")
    return body[:size], body[size:]


def decode_bytes_tensor(raw: bytes) -> list[bytes]:
    """Elements of a BYTES tensor: each one a 4-byte little-endian length, then that many bytes."""
    items: list[bytes] = []
    at = 0
    while at < len(raw):
        if at + _LENGTH.size > len(raw):
            raise MalformedBody(f"BYTES tensor ends inside a length prefix at byte {at}")
        (size,) = _LENGTH.unpack_from(raw, at)
        at += _LENGTH.size
        if at + size > len(raw):
            raise MalformedBody(
                f"BYTES element {len(items)} says {size} bytes but only {len(raw) - at} remain"
            )
        items.append(raw[at : at + size])
        at += size
    return items


def decode_texts(raw: bytes) -> list[str]:
    """A BYTES tensor of UTF-8 texts."""
    return utf8_texts(decode_bytes_tensor(raw))


def utf8_texts(items: Iterable[bytes]) -> list[str]:
    texts = []
    for i, item in enumerate(items):
        try:
            texts.append(item.decode("utf-8"))
        except UnicodeDecodeError as error:
            raise InvalidInput(f"BYTES element {i} is not UTF-8 text ({error.reason})") from None
    return texts


def encode_bytes_tensor(items: Iterable[str | bytes]) -> bytes:
    parts = []
    for item in items:
        data = item.encode("utf-8") if isinstance(item, str) else item
        parts += [_LENGTH.pack(len(data)), data]
    return b"".join(parts)


def encode_tensor(datatype: str, data: list[Any]) -> bytes:
    """Raw bytes of a flat (row-major) tensor: FP32 as little-endian floats, BYTES prefixed."""
    if datatype == "BYTES":
        return encode_bytes_tensor(data)
    if datatype == "FP32":
        return np.asarray(data, dtype="<f4").tobytes()
    raise ValueError(f"no binary encoding for {datatype}")


def binary_size(parameters: dict[str, Any] | None) -> int | None:
    """An input's `binary_data_size`, or None when its data is JSON."""
    size = (parameters or {}).get("binary_data_size")
    if size is None:
        return None
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise MalformedBody(f"binary_data_size must be a byte count, got {size!r}")
    return size


def slice_inputs(sizes: list[int | None], tail: bytes) -> list[bytes | None]:
    """Each binary input's bytes, in input order; every byte of the tail must belong to one."""
    total = sum(s for s in sizes if s is not None)
    if total != len(tail):
        raise MalformedBody(
            f"inputs declare {total} bytes of binary data (binary_data_size) but the body "
            f"has {len(tail)} after its {HEADER} bytes of JSON"
        )
    parts: list[bytes | None] = []
    at = 0
    for size in sizes:
        if size is None:
            parts.append(None)
            continue
        parts.append(tail[at : at + size])
        at += size
    return parts


def flag(parameters: dict[str, Any] | None, name: str, default: bool) -> bool:
    value = (parameters or {}).get(name, default)
    if not isinstance(value, bool):
        raise InvalidInput(f'parameter "{name}" must be true or false')
    return value


def encode_outputs(outputs: list[dict[str, Any]], binary: set[str]) -> tuple[list[dict], bytes]:
    """The outputs' JSON (binary ones without `data`, with their size) and the binary tail."""
    described: list[dict] = []
    tail: list[bytes] = []
    for output in outputs:
        if output["name"] not in binary:
            described.append(output)
            continue
        raw = encode_tensor(output["datatype"], output["data"])
        tail.append(raw)
        head = {k: v for k, v in output.items() if k != "data"}
        described.append({**head, "parameters": {"binary_data_size": len(raw)}})
    return described, b"".join(tail)
