"""Which database is Lifeboat's own (its Django `default` database): read from settings, imports no models,
so the models may ask it (Database.is_lifeboat_self) without importing the self-backup service."""

from __future__ import annotations

from typing import Any

from django.conf import settings

LOCAL_HOSTS = {"", "localhost", "127.0.0.1", "::1"}


def own_settings() -> dict[str, Any]:
    return settings.DATABASES["default"]


def is_postgresql(db_settings: dict[str, Any] | None = None) -> bool:
    return "postgresql" in (db_settings or own_settings())["ENGINE"]


def is_sqlite(db_settings: dict[str, Any] | None = None) -> bool:
    return "sqlite3" in (db_settings or own_settings())["ENGINE"]


def same_host(a: str, b: str) -> bool:
    return a == b or (a in LOCAL_HOSTS and b in LOCAL_HOSTS)


def is_own_database(host: str, port: int, dbname: str) -> bool:
    own = own_settings()
    if not is_postgresql(own):
        return False
    return (same_host(host, own.get("HOST") or "") and int(port) == int(own.get("PORT") or 5432)
            and dbname == own.get("NAME"))
