"""A JSON response rendered by orjson: about 5x faster than the standard library on our bodies."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import JSONResponse

# numpy arrays and scalars serialise directly; non-string dict keys are never produced here
_OPTIONS = orjson.OPT_SERIALIZE_NUMPY


class JSONBytesResponse(JSONResponse):
    """A JSONResponse (so OpenAPI shows the response model) rendered by orjson."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=_OPTIONS)
