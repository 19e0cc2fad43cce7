"""Trained models: `image.train(features, label=...)` runs the service's `train-model` process as a job
(the image is the feature stack) and returns a `Model`; `image.classify(model)` takes it (or an id)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .lazy import Image
    from .service import Service

PROCESS = "train-model"


class Model:
    """A model stored by the service (`/models/{id}`): its STAC MLM item and accuracy report."""

    def __init__(self, svc: "Service", mid: str, report: dict[str, Any] | None = None) -> None:
        self._svc, self.id, self._report = svc, mid, report

    def __repr__(self) -> str:
        acc = (self._report or {}).get("overall_accuracy")
        return f"<Model {self.id}{'' if acc is None else f' overall accuracy {acc:.3f}'}>"

    def __str__(self) -> str:
        return self.id

    @property
    def report(self) -> dict[str, Any]:
        """The accuracy report on held-out polygons (overall accuracy, kappa, per class, confusion matrix)."""
        if self._report is None:
            self._report = self._svc._get(f"/models/{self.id}/report", f="json").json()
        return self._report

    @property
    def info(self) -> dict[str, Any]:
        """The model's STAC item (MLM extension: inputs, classes, framework)."""
        return self._svc._get(f"/models/{self.id}").json()

    def classify(self, img: "Image", **params: Any) -> "Image":
        """The class map of `img` (lazy): `img.classify(model=self, ...)`."""
        return img.classify(model=self, **params)


def train(img: "Image", features: Any, progress: bool, options: dict[str, Any]) -> Model:
    """Fit a model on `img` (the feature stack) as an asynchronous job; wait (a progress bar) and
    return the stored model."""
    from .zonal import features_input

    inputs: dict[str, Any] = {"data": img} | ({"features": features_input(features)} if features is not None else {})
    job = img._svc._build(PROCESS, inputs | options).start()
    out = job.wait(progress=progress).result()
    return Model(img._svc, out["id"], out.get("report"))
