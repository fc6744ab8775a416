"""Calls that change something run as the token (so every event recorded meanwhile names its owner and the token)
and leave one `api.*` event of their own saying which token asked for what."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import models
from django.http import HttpRequest

from api.tokens import token_actor
from audit import trail


@contextmanager
def as_token(request: HttpRequest) -> Iterator[None]:
    with trail.acting_as(token_actor(request.auth)):
        yield


def record(request: HttpRequest, action: str, *, target: models.Model | None, summary: str, **details) -> None:
    token = request.auth
    trail.record(action, actor=token_actor(token), target=target, summary=summary,
                 details={"via": "api", "owner": token.owner.get_username(), "token": token.name,
                          "token_id": token.pk, "token_scope": token.scope, "request": f"{request.method} "
                          f"{request.path}", **details})
