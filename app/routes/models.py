"""Models: the stored classifiers and clusterers as a STAC-like collection of MLM items
(`/models`, `/models/{id}`, JSON and HTML), their accuracy reports, their ONNX files, and
registration of an operator's ONNX file (POST /models)."""
from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from processes.models.mlm import MEDIA_TYPE

from ..errors import ApiError, NotFound
from ..html import render_report
from ..model_catalog import ModelConfig, operator_file, register
from ..negotiate import base_url, choose_format, document, json_body, link, self_links

CONFORMANCE: list[str] = []


def _item(request: Request, doc: dict) -> dict:
    base = base_url(request)
    url = f"{base}/models/{doc['id']}"
    doc = dict(doc)
    doc["assets"] = {k: {**a, "href": f"{url}/model.onnx"} for k, a in doc.get("assets", {}).items()}
    doc["links"] = self_links(url, f"Model {doc['id']}") + [
        link(f"{base}/models", "collection", "application/json", "Models"),
        link(f"{base}/models", "parent", "application/json", "Models"),
        link(f"{url}/report", "describedby", "application/json", "Accuracy report"),
        link(f"{base}/processes/classify", "http://www.opengis.net/def/rel/ogc/1.0/processes", "application/json",
             "Apply it with the classify process" if doc["properties"].get("geodeferred:kind") != "clusterer"
             else "Apply it with the cluster process")]
    return doc


async def list_models(request: Request) -> Response:
    store = request.app.state.services.models
    items = [_item(request, d) for d in await run_in_threadpool(store.items)]
    base = base_url(request)
    doc = {"type": "FeatureCollection", "id": "models", "title": "Models",
           "description": "Trained and registered models (STAC items with the MLM extension)",
           "features": items, "numberMatched": len(items), "numberReturned": len(items),
           "links": self_links(f"{base}/models", "Models")}
    return document(request, doc, "Models", media_type="application/geo+json")


async def model(request: Request) -> Response:
    store = request.app.state.services.models
    doc = _item(request, await run_in_threadpool(store.item, request.path_params["mid"]))
    return document(request, doc, doc["properties"].get("title", doc["id"]), media_type="application/geo+json")


async def report(request: Request) -> Response:
    store = request.app.state.services.models
    mid = request.path_params["mid"]
    rep = await run_in_threadpool(store.report, mid)
    if rep is None:
        raise NotFound(f"model '{mid}' has no accuracy report (it was registered, not trained here)")
    if choose_format(request, ["json", "html"], "json") == "html" and "overall_accuracy" in rep:
        return HTMLResponse(render_report(mid, rep, f"{base_url(request)}/models/{mid}/report?f=json"))
    return document(request, rep, f"Report of {mid}")


async def model_file(request: Request) -> Response:
    path = request.app.state.services.models.model_file(request.path_params["mid"])
    return FileResponse(path, media_type=MEDIA_TYPE, filename=f"{request.path_params['mid']}.onnx")


async def register_model(request: Request) -> Response:
    """Register an ONNX file from the operator's model folder with its declared inputs and classes."""
    s = request.app.state.services
    body = await json_body(request)
    if not isinstance(body, dict):
        raise ApiError("expected a JSON object describing the model")
    try:
        cfg = ModelConfig(**body)
    except ValueError as e:
        err = e.errors()[0] if hasattr(e, "errors") else {"loc": (), "msg": str(e)}
        raise ApiError(f"{'.'.join(str(x) for x in err['loc'])}: {err['msg']}") from None
    if cfg.id in s.models.ids():
        raise ApiError(f"a model '{cfg.id}' exists already")
    await run_in_threadpool(register, s.models, cfg, operator_file(s.settings, cfg.file))
    doc = _item(request, s.models.item(cfg.id))
    return JSONResponse(doc, 201, headers={"Location": f"{base_url(request)}/models/{cfg.id}"},
                        media_type="application/geo+json")


ROUTES = [
    Route("/models", list_models, methods=["GET"]),
    Route("/models", register_model, methods=["POST"]),
    Route("/models/{mid}", model),
    Route("/models/{mid}/report", report),
    Route("/models/{mid}/model.onnx", model_file),
]
