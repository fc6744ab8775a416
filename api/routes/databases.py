"""Databases: list, detail (with the overview's cells and its newest runs), create and change (admin scope)."""

from __future__ import annotations

from django.core.exceptions import ValidationError as ModelValidationError
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Router, Status

from api import present
from api.auth import needs
from api.changes import as_token, record
from api.models import Scope
from api.problems import Problem
from api.schemas import DatabaseDetail, DatabaseIn, DatabaseList, DatabaseOut, DatabasePatch, ProblemOut
from backups.models import BackupRun, Database, Feature, Tier
from backups.web import overview
from backups.web.history import mark_proven

router = Router(tags=["databases"])
VIEW = needs(Scope.READ, "backups.view_database")
RECENT_RUNS = 20


@router.get("/databases", response=DatabaseList, auth=VIEW, url_name="databases")
def list_databases(request):
    databases = list(Database.objects.prefetch_related("tiers"))
    return {"count": len(databases), "items": [present.database(db) for db in databases]}


@router.get("/databases/{name}", response=DatabaseDetail, auth=VIEW, url_name="database")
def database_detail(request, name: str):
    database = get_object_or_404(Database.objects.prefetch_related("tiers"), name=name)
    now = timezone.now()
    tiers = list(Tier.objects.filter(enabled=True).that_can(Feature.ARTIFACTS).order_by("position", "name"))
    row = overview.cell_states(overview.freshness_matrix(tiers, now, Database.objects.filter(pk=database.pk)))[0]
    runs = list(BackupRun.objects.filter(database=database).select_related("database", "requested_by")
                .order_by("-created_at")[:RECENT_RUNS])
    return {**present.database(database),
            "cells": [present.cell(t.name, c, s) for t, c, s in zip(tiers, row.cells, row.states, strict=True)],
            "next_run": database.next_run_after(now) if database.enabled else None,
            "recent_runs": [present.run(r) for r in mark_proven(runs)]}


def _tiers(names: list[str]) -> list[Tier]:
    found = {t.name: t for t in Tier.objects.filter(name__in=names)}
    unknown = sorted(set(names) - set(found))
    if unknown:
        raise Problem(422, f"unknown tier(s): {', '.join(unknown)}", kind="invalid-request")
    return [found[n] for n in names]


def _save(database: Database, tiers: list[Tier] | None) -> None:
    """Model validation as the admin applies it; a refusal is a 422 naming each field, and nothing is saved."""
    try:
        database.full_clean()
    except ModelValidationError as exc:
        errors = [{"field": field, "message": " ".join(msgs)} for field, msgs in exc.message_dict.items()]
        raise Problem(422, "; ".join(f"{e['field']}: {e['message']}" for e in errors), kind="invalid-request",
                      errors=errors) from None
    with transaction.atomic():
        database.save()
        if tiers is not None:
            database.tiers.set(tiers)


@router.post("/databases", response={201: DatabaseOut, 409: ProblemOut, 422: ProblemOut},
             auth=needs(Scope.ADMIN, "backups.add_database"), url_name="create_database")
def create_database(request, payload: DatabaseIn, response: HttpResponse):
    data = payload.dict()
    tiers = _tiers(data.pop("tiers"))
    if Database.objects.filter(name=data["name"]).exists():
        raise Problem(409, f"a database named {data['name']} already exists", kind="conflict",
                      url=present.url("database", name=data["name"]))
    database = Database(**data)
    with as_token(request), transaction.atomic():  # saved and audited, or neither
        _save(database, tiers)
        record(request, "api.database_created", target=database, summary=f"database {database.name} created "
               "through the API", database=database.name)
    response["Location"] = present.url("database", name=database.name)
    return Status(201, present.database(database))


@router.patch("/databases/{name}", response={200: DatabaseOut, 422: ProblemOut},
              auth=needs(Scope.ADMIN, "backups.change_database"), url_name="change_database")
def change_database(request, name: str, payload: DatabasePatch):
    database = get_object_or_404(Database, name=name)
    data = payload.dict(exclude_unset=True)
    tiers = _tiers(data.pop("tiers")) if data.get("tiers") is not None else None
    data.pop("tiers", None)
    for field, value in data.items():
        if value is None:
            raise Problem(422, f"{field}: may not be null", kind="invalid-request")
        setattr(database, field, value)
    changed = sorted([*data, *(["tiers"] if tiers is not None else [])])
    with as_token(request), transaction.atomic():
        _save(database, tiers)
        record(request, "api.database_changed", target=database, summary=f"database {database.name} changed "
               "through the API", database=database.name, fields=changed)
    return present.database(database)
