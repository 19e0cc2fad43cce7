"""The baseline users would otherwise pick, in one FastAPI app:
- titiler.core's TilerFactory (default algorithms, so `algorithm=hillshade` works):
  /tiles/{tileMatrixSetId}/{z}/{x}/{y}.png?url=COG
- its STAC reader (MultiBaseTilerFactory + rio-tiler STACReader) on a local item document:
  /stac/tiles/...?url=ITEM.json&assets=...
- titiler.mosaic with cogeo-mosaic's MosaicJSON backend over STAC items (when installed, the
  `bench` extra): /mosaicjson/tiles/...?url=MOSAIC.json&assets=...&pixel_selection=median"""
from fastapi import FastAPI
from rio_tiler.io import STACReader
from titiler.core.dependencies import AssetsExprParams
from titiler.core.errors import DEFAULT_STATUS_CODES, add_exception_handlers
from titiler.core.factory import MultiBaseTilerFactory, TilerFactory

app = FastAPI(title="titiler baseline (bench)")
app.include_router(TilerFactory().router)
app.include_router(MultiBaseTilerFactory(reader=STACReader, router_prefix="/stac").router, prefix="/stac")
add_exception_handlers(app, DEFAULT_STATUS_CODES)
try:
    from cogeo_mosaic.backends import MosaicBackend
    from titiler.mosaic.errors import MOSAIC_STATUS_CODES
    from titiler.mosaic.factory import MosaicTilerFactory
except ImportError:  # python -m bench then reports the mosaic rows as not available
    MOSAIC = False
else:
    MOSAIC = True
    app.include_router(MosaicTilerFactory(backend=MosaicBackend, dataset_reader=STACReader,
                                          layer_dependency=AssetsExprParams, router_prefix="/mosaicjson").router,
                       prefix="/mosaicjson")
    add_exception_handlers(app, MOSAIC_STATUS_CODES)


@app.get("/healthz")
def healthz() -> dict[str, str]:
    return {"ok": "yes", "mosaic": "yes" if MOSAIC else "no"}
