"""Append to the audit trail. Every operation calls record(); nothing else writes AuditEvent rows.

Who did it (the actor) is decided here, once, for every app:
- a web request: the signed-in user (audit.middleware);
- a job started from the dashboard: the user who asked for it (the task runs under acting_as(that user));
- the command line: `--actor USER` naming a Lifeboat user, and always the OS user (`alice (os:root)`, or
  `os:root` alone; audit.commands.AuditedCommand);
- anything else (schedules, signals with nobody behind them): "system".
An event recorded with actor=None takes the actor of the context it is recorded in.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.utils import timezone

from audit.models import AuditChainHead, AuditEvent

# Who is acting, for events recorded far from the request (configuration changes caught by signals).
# Holds a user, a request (its user is read lazily) or a name; set by audit.middleware for web requests.
_acting: ContextVar[Any] = ContextVar("lifeboat_audit_actor", default=None)


@contextmanager
def acting_as(who) -> Iterator[None]:
    token = _acting.set(who)
    try:
        yield
    finally:
        _acting.reset(token)


def current_actor() -> str:
    who = _acting.get()
    if who is not None and hasattr(who, "user"):  # a request: its user, whatever the auth middleware found
        who = who.user
    return who if isinstance(who, str) else actor_name(who)


def os_user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers): the uid is still a fact
        import os

        return f"uid {os.getuid()}"


def command_line_actor(user=None) -> str:
    """`alice (os:root)` when a Lifeboat user is named, else `os:root`: the command line is never "system"."""
    name = actor_name(user) if user is not None else ""
    return f"{name} (os:{os_user()})" if name and name != "system" else f"os:{os_user()}"


def plain(value: Any) -> Any:
    """Round-trip through JSON, so the hash covers exactly what the database will return."""
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def actor_name(user) -> str:
    if user is None or not getattr(user, "is_authenticated", False):
        return "system"
    return user.get_username()


def record(action: str, *, summary: str, actor=None, target: models.Model | None = None,
           details: dict[str, Any] | None = None) -> AuditEvent:
    """Append one event under a lock on the chain head, so concurrent writers cannot fork the chain."""
    clean_details = plain(details or {})
    with transaction.atomic():
        head, _ = AuditChainHead.objects.select_for_update().get_or_create(pk=1)
        event = AuditEvent(
            created_at=timezone.now(),
            actor=actor if isinstance(actor, str) else (current_actor() if actor is None else actor_name(actor)),
            action=action,
            target_type=target._meta.label_lower if target is not None else "",
            target_id=str(target.pk) if target is not None else "",
            summary=summary[:300],
            details=clean_details,
            prev_hash=head.last_hash,
        )
        event.hash = event.compute_hash()
        if settings.LIFEBOAT_AUDIT_KEY:
            event.mac = AuditEvent.tag(event.hash, settings.LIFEBOAT_AUDIT_KEY)
        event.save()
        AuditChainHead.objects.filter(pk=head.pk).update(
            last_hash=event.hash, last_event_id=event.pk, count=models.F("count") + 1
        )
    return event
