"""The baseline users would otherwise pick: titiler.core's TilerFactory (default algorithms, so
`algorithm=hillshade` works) in a FastAPI app. Tiles: /tiles/{tileMatrixSetId}/{z}/{x}/{y}.png?url=..."""
from fastapi import FastAPI
from titiler.core.errors import DEFAULT_STATUS_CODES, add_exception_handlers
from titiler.core.factory import TilerFactory

app = FastAPI(title="titiler baseline (bench)")
app.include_router(TilerFactory().router)
add_exception_handlers(app, DEFAULT_STATUS_CODES)


@app.get("/healthz")
def healthz() -> dict[str, str]:
    return {"ok": "yes"}
