"""`GET /`: the playground, a static page of the package (app/static) that calls the public
routes (/models, /predict, /explain) from the browser. No build step, CDN or external font.

The page and its assets are public even with an API key set (they hold no data); the page asks
for the key when a route answers 401 and sends it as `Authorization: Bearer <key>`.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.responses import FileResponse, HTMLResponse

STATIC_DIR = Path(__file__).resolve().parents[2] / "static"
STATIC_URL = "/static"
# Only this origin: a page that can reach nothing else can leak nothing typed into it
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def install_playground(app: FastAPI) -> None:
    app.mount(STATIC_URL, StaticFiles(directory=STATIC_DIR), name="static")

    @app.get(
        "/",
        response_class=HTMLResponse,
        summary="The playground: a page to try the models in a browser",
        tags=["playground"],
    )
    async def playground() -> FileResponse:
        """An HTML page of the package that calls /models, /predict and /explain. (`POST /` is
        `/predict` at the base URL, for Hugging Face's InferenceClient.)"""
        return FileResponse(
            STATIC_DIR / "index.html",
            media_type="text/html; charset=utf-8",
            headers={"Content-Security-Policy": CSP, "Cache-Control": "no-cache"},
        )
