"""Every API error as `application/problem+json` (RFC 9457): type, title, status, detail, and extension members
where a client needs more (the run a 409 is about, the fields a 422 refused)."""

from __future__ import annotations

import json
import logging
from http import HTTPStatus
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from ninja.errors import AuthenticationError, HttpError, ValidationError

CONTENT_TYPE = "application/problem+json"
# A problem type names the problem (RFC 9457 asks only that it identify it); "about:blank" when the status says it all.
TYPE_BASE = "urn:lifeboat:problem:"
log = logging.getLogger(__name__)


class Problem(Exception):
    def __init__(self, status: int, detail: str, *, kind: str | None = None, headers: dict[str, str] | None = None,
                 **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.detail, self.headers, self.extra = status, detail, headers or {}, extra
        self.kind = kind


def problem_response(status: int, detail: str, *, kind: str | None = None, headers: dict[str, str] | None = None,
                     **extra: Any) -> HttpResponse:
    title = HTTPStatus(status).phrase
    body = {"type": TYPE_BASE + kind if kind else "about:blank", "title": title, "status": status,
            "detail": detail, **extra}
    response = HttpResponse(json.dumps(body, default=str), status=status, content_type=CONTENT_TYPE)
    for name, value in (headers or {}).items():
        response[name] = value
    if status == 401:  # RFC 9110: a 401 says how to authenticate
        response["WWW-Authenticate"] = 'Bearer realm="lifeboat"'
    return response


def install(api) -> None:
    """Replace django-ninja's default error bodies with problem details."""

    @api.exception_handler(Problem)
    def _problem(request: HttpRequest, exc: Problem) -> HttpResponse:
        return problem_response(exc.status, exc.detail, kind=exc.kind, headers=exc.headers, **exc.extra)

    @api.exception_handler(AuthenticationError)
    def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        return problem_response(401, "send a Lifeboat API token: Authorization: Bearer lbt_...",
                                kind="token-missing")

    @api.exception_handler(HttpError)
    def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        return problem_response(exc.status_code, str(exc))

    @api.exception_handler(Http404)
    def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
        return problem_response(404, str(exc) or "no such object")

    @api.exception_handler(ValidationError)
    def _invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        errors = [{"field": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg", "")}
                  for e in exc.errors]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors) or "invalid request"
        return problem_response(422, detail, kind="invalid-request", errors=errors)

    @api.exception_handler(Exception)
    def _unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
        log.exception("API call %s %s failed", request.method, request.path)
        return problem_response(500, "the server failed on this request; the error is in its log")


def not_found_view(request: HttpRequest, rest: str = "") -> HttpResponse:
    """Any other path under /api/v1/: a problem too, not the site's HTML 404 page."""
    return problem_response(404, f"no API endpoint at {request.path}; the API is described at /api/v1/openapi.json")
