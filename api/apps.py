from django.apps import AppConfig


class ApiConfig(AppConfig):
    """The JSON API under /api/v1/ and the personal tokens that open it: the top layer, beside the project shell,
    because it drives every app below (backups, drills, alerts, evidence) through their own functions.

    Tokens are audited by name where they are made and revoked (api/tokens.py), not by the configuration audit:
    their last-used time changes on every call and says nothing about who may do what."""

    name = "api"
    verbose_name = "API"
