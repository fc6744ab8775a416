"""Every change to a configuration model becomes an audit event with what changed, before and after.

Receivers (pre_save/post_save/post_delete/m2m_changed) keyed on a registry, so a change is recorded however
it was made: the Django admin (inlines and bulk actions included), a management command or the shell. The
actor is whoever `trail.acting_as()` names (the signed-in user for every web request, see
audit.middleware), else "system".

The models in core.roles.CONFIG_MODELS (what Admins edit) are registered automatically when their app is
installed; another app may call `register(Model, secret_fields=(...))` from its AppConfig.ready().
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.apps import apps as global_apps
from django.db import models
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save

from audit import trail

# Bookkeeping fields whose change says nothing about the configuration.
IGNORED_FIELDS = {"created_at", "updated_at"}
# Fields of the CONFIG_MODELS that hold secrets: the trail says they changed, never what they hold.
SECRET_FIELDS = {"alerts.channel": ("url",)}
REDACTED = "(redacted)"


@dataclass(frozen=True)
class Audited:
    model: type[models.Model]
    secret_fields: frozenset[str]
    ignored_fields: frozenset[str] = frozenset()
    # When set, only changes of these fields are recorded (creation and deletion are recorded elsewhere).
    tracked_fields: frozenset[str] | None = None


REGISTRY: dict[type[models.Model], Audited] = {}
_THROUGH: dict[type[models.Model], tuple[type[models.Model], str]] = {}


def register(model: type[models.Model], *, secret_fields: tuple[str, ...] = (), ignored_fields: tuple[str, ...] = (),
             tracked_fields: tuple[str, ...] | None = None) -> None:
    """Audit every change to `model`. Values of `secret_fields` are never written, only that they changed;
    `ignored_fields` change on their own (a scheduler's next run); with `tracked_fields`, only those count."""
    REGISTRY[model] = Audited(model, frozenset(secret_fields), frozenset(ignored_fields),
                              frozenset(tracked_fields) if tracked_fields is not None else None)
    if tracked_fields is None:
        for field in model._meta.many_to_many:
            _THROUGH[field.remote_field.through] = (model, field.name)


def register_identity_and_schedules() -> None:
    """Who may do what (users, groups, memberships, permissions) and what runs when (django-q schedules: only
    real changes, never the scheduler's own next_run bookkeeping) are configuration too."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    register(get_user_model(), secret_fields=("password",), ignored_fields=("last_login",))
    register(Group)
    if global_apps.is_installed("django_q"):
        from django_q.models import Schedule

        register(Schedule, ignored_fields=("next_run", "task"))


def register_config_models() -> None:
    from core.roles import CONFIG_MODELS

    installed = {c.label for c in global_apps.get_app_configs()}
    for app_label, names in CONFIG_MODELS.items():
        if app_label not in installed:
            continue
        for name in names:
            try:
                model = global_apps.get_model(app_label, name)
            except LookupError:  # declared in roles before the app's branch added the model
                continue
            if model not in REGISTRY:
                register(model, secret_fields=SECRET_FIELDS.get(model._meta.label_lower, ()))


def snapshot(instance: models.Model, audited: Audited | None = None) -> dict[str, Any]:
    """The configuration as plain values: concrete fields (foreign keys as ids), secrets redacted."""
    audited = audited or REGISTRY.get(type(instance)) or Audited(type(instance), frozenset())
    secret = audited.secret_fields
    values = {}
    for field in instance._meta.concrete_fields:
        if field.primary_key or field.name in IGNORED_FIELDS or field.name in audited.ignored_fields:
            continue
        if audited.tracked_fields is not None and field.name not in audited.tracked_fields:
            continue
        value = field.value_from_object(instance)
        values[field.name] = REDACTED if field.name in secret and value else value
    return trail.plain(values)


def _diff(before: dict, after: dict) -> dict[str, dict[str, Any]]:
    return {name: {"before": before.get(name), "after": after[name]}
            for name in after if before.get(name) != after[name]}


def _secret_changes(instance: models.Model, old: models.Model | None) -> list[str]:
    """Secret fields whose value changed (compared in memory, never written down)."""
    secret = REGISTRY[type(instance)].secret_fields
    return [name for name in sorted(secret)
            if old is None or getattr(old, name, None) != getattr(instance, name, None)]


def _name(obj: models.Model) -> str:
    """How a related object is written in a change: a permission as the dotted name views check."""
    if obj._meta.label == "auth.Permission":
        return f"{obj.content_type.app_label}.{obj.codename}"
    return str(obj)


def _label(instance: models.Model) -> str:
    return f"{instance._meta.verbose_name} {instance}"


def _action(instance: models.Model, verb: str) -> str:
    return f"config.{instance._meta.model_name}.{verb}"


def _pre_save(sender, instance, raw=False, **kwargs) -> None:
    if sender not in REGISTRY or raw or instance.pk is None:
        return
    old = sender._base_manager.filter(pk=instance.pk).first()
    instance._audit_before = snapshot(old) if old is not None else None
    instance._audit_secrets_changed = _secret_changes(instance, old) if old is not None else []


def _post_save(sender, instance, created=False, raw=False, **kwargs) -> None:
    if sender not in REGISTRY or raw:
        return
    after = snapshot(instance)
    before = None if created else instance.__dict__.pop("_audit_before", None)
    if before is None and REGISTRY[sender].tracked_fields is not None:
        return  # partly audited models: only changes of the tracked fields
    if before is None:
        trail.record(_action(instance, "created"), actor=trail.current_actor(), target=instance,
                     summary=f"{_label(instance)} created", details={"before": None, "after": after})
        return
    changed = _diff(before, after)
    for name in instance.__dict__.pop("_audit_secrets_changed", []):
        changed[name] = {"before": REDACTED, "after": REDACTED, "note": "secret value changed"}
    if changed:
        trail.record(_action(instance, "updated"), actor=trail.current_actor(), target=instance,
                     summary=f"{_label(instance)} changed: {', '.join(changed)}",
                     details={"changed": changed, "before": before, "after": after})


def _post_delete(sender, instance, **kwargs) -> None:
    if sender not in REGISTRY or REGISTRY[sender].tracked_fields is not None:
        return
    trail.record(_action(instance, "deleted"), actor=trail.current_actor(), target=instance,
                 summary=f"{_label(instance)} deleted", details={"before": snapshot(instance), "after": None})


def _m2m_changed(sender, instance, action, reverse, model=None, pk_set=None, **kwargs) -> None:
    """A many-to-many edit (e.g. a database's tiers): before on pre_*, one event on post_*."""
    if sender not in _THROUGH or action not in ("pre_add", "pre_remove", "pre_clear", "post_add",
                                                 "post_remove", "post_clear"):
        return
    if reverse:  # edited from the other side (group.user_set.add(user)): one event on the side that changed
        if action in ("post_add", "post_remove") and pk_set:
            _, field = _THROUGH[sender]
            names = sorted(_name(obj) for obj in model._base_manager.filter(pk__in=pk_set))
            verb = "added" if action == "post_add" else "removed"
            trail.record(_action(instance, "updated"), target=instance,
                         summary=f"{_label(instance)}: {model._meta.verbose_name_plural} {verb} ({field})",
                         details={"changed": {f"{model._meta.model_name}.{field}": {verb: names}}})
        return
    _, field = _THROUGH[sender]
    current = sorted(_name(obj) for obj in getattr(instance, field).all())
    if action.startswith("pre_"):
        instance.__dict__.setdefault("_audit_m2m_before", {})[field] = current
        return
    before = instance.__dict__.get("_audit_m2m_before", {}).pop(field, None)
    if before == current:
        return
    trail.record(_action(instance, "updated"), actor=trail.current_actor(), target=instance,
                 summary=f"{_label(instance)} changed: {field}",
                 details={"changed": {field: {"before": before, "after": current}}})


def connect() -> None:
    register_config_models()
    register_identity_and_schedules()
    pre_save.connect(_pre_save, dispatch_uid="lifeboat-config-audit-pre")
    post_save.connect(_post_save, dispatch_uid="lifeboat-config-audit-post")
    post_delete.connect(_post_delete, dispatch_uid="lifeboat-config-audit-delete")
    m2m_changed.connect(_m2m_changed, dispatch_uid="lifeboat-config-audit-m2m")


def record_admin_edit(instance: models.Model, before: dict[str, Any] | None) -> None:
    """An admin edit of a model whose ordinary changes are audited by its own operations (a drill is audited by
    drills.conduct): recorded here with before and after, so a change behind those operations' back shows."""
    after = snapshot(instance)
    changed = _diff(before or {}, after)
    if changed:
        trail.record(_action(instance, "updated"), target=instance,
                     summary=f"{_label(instance)} changed in the admin: {', '.join(changed)}",
                     details={"changed": changed, "before": before, "after": after, "via": "admin"})
