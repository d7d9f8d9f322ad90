"""POST /tokenize."""

from __future__ import annotations

import httpx
import pytest

pytestmark = [pytest.mark.anyio, pytest.mark.unit]
LONG = "a truly great film " * 60


async def test_tokens_ids_offsets_and_count(client: httpx.AsyncClient) -> None:
    text = "Great movie"
    response = await client.post("/tokenize", json={"text": text})
    assert response.status_code == 200
    (result,) = response.json()["results"]
    assert result["count"] == len(result["tokens"]) == len(result["ids"]) == len(result["offsets"])
    assert result["truncated"] is False
    start, end = result["offsets"][0]
    first = result["tokens"][0].lstrip("#\u2581")  # WordPiece ## / metaspace word mark
    assert text[start:end].lower().strip().startswith(first[:1])


async def test_several_texts_in_order(client: httpx.AsyncClient) -> None:
    response = await client.post("/tokenize", json={"texts": ["one", "two words"]})
    counts = [r["count"] for r in response.json()["results"]]
    assert counts[0] <= counts[1]


async def test_truncated_view_is_what_the_model_reads(client: httpx.AsyncClient) -> None:
    (result,) = (await client.post("/tokenize", json={"text": LONG})).json()["results"]
    assert result["truncated"] is True and result["count"] == 96


async def test_truncate_false_shows_every_token(client: httpx.AsyncClient) -> None:
    body = {"text": LONG, "truncate": False}
    (result,) = (await client.post("/tokenize", json=body)).json()["results"]
    assert result["truncated"] is False and result["count"] > 96


async def test_uses_the_chosen_model(client: httpx.AsyncClient) -> None:
    response = await client.post("/tokenize", json={"text": "영화", "model": "tiny-ko"})
    assert response.json()["model"] == "tiny-ko"


async def test_empty_text_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post("/tokenize", json={"text": " "})
    assert response.status_code == 422


async def test_unknown_model_is_404(client: httpx.AsyncClient) -> None:
    response = await client.post("/tokenize", json={"text": "x", "model": "nope"})
    assert response.status_code == 404
