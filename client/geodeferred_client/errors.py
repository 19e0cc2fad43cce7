"""Python exceptions for the service's RFC 7807 problem documents."""
from __future__ import annotations

from typing import Any

import httpx


class ServiceError(Exception):
    """The service refused or failed a request: `status`, `title` and `detail` from its problem document."""

    def __init__(self, status: int, title: str, detail: str, type_: str = "", instance: str = "",
                 document: dict[str, Any] | None = None) -> None:
        super().__init__(f"{status} {title}: {detail}" if detail else f"{status} {title}")
        self.status, self.title, self.detail, self.type, self.instance = status, title, detail, type_, instance
        self.document = document or {}


class InvalidRequest(ServiceError):
    """4xx: the request (a parameter, the workflow graph) is wrong; `detail` says where."""


class NotFoundError(InvalidRequest):
    """404: unknown collection, process or job."""


class ConflictError(InvalidRequest):
    """409: e.g. publishing under an id that exists (use replace=True)."""


class ServerError(ServiceError):
    """5xx: the service failed; `detail` carries its log id."""


class JobFailed(ServiceError):
    """An asynchronous job ended as failed."""


class NotSupported(Exception):
    """The service does not offer what was asked (its descriptions say so); nothing was sent."""


def raise_for_problem(r: httpx.Response) -> httpx.Response:
    """Raise the exception matching a 4xx/5xx answer, carrying its problem document's fields."""
    if r.status_code < 400:
        return r
    try:
        doc = r.json()
    except ValueError:
        doc = {}
    if not isinstance(doc, dict):
        doc = {}
    title = str(doc.get("title") or r.reason_phrase or "Error")
    detail = str(doc.get("detail") or doc.get("description") or r.text[:500])
    cls = (NotFoundError if r.status_code == 404 else ConflictError if r.status_code == 409
           else InvalidRequest if r.status_code < 500 else ServerError)
    raise cls(r.status_code, title, detail, str(doc.get("type", "")), str(doc.get("instance", "")), doc)
