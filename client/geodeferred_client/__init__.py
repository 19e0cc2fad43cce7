"""geodeferred_client: an Earth Engine-like lazy client for a geodeferred (OGC API) service.

    from geodeferred_client import Service
    svc = Service("http://127.0.0.1:8000")
    hs = svc.collection("dem").hillshade(azimuth=315, z_factor=30)   # lazy: a Part 3 request
    hs.to_dict()                                                     # the JSON it stands for
    hs.tile_layer(colormap="gray").url                              # tiles computed on demand
    hs.compute(bbox=(0, 40, 20, 50), width=512)                      # numpy pixels

Process methods are generated from the service's /processes descriptions.
"""
from .errors import (ConflictError, InvalidRequest, JobFailed, NotFoundError, NotSupported, ServerError,
                     ServiceError)
from .features import Features
from .job import Job
from .lazy import Collection, Image, Result
from .models import Model
from .results import TileLayer
from .service import Service

__all__ = ["Service", "Image", "Collection", "Result", "Features", "Model", "Job", "TileLayer", "ServiceError",
           "InvalidRequest", "NotFoundError", "ConflictError", "ServerError", "JobFailed", "NotSupported"]
__version__ = "0.1.0"
