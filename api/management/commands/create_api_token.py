"""Make a personal API token for automation; the token is the last word printed (shown once, never stored)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

from api import tokens
from api.models import Scope
from audit.commands import AuditedCommand


class Command(AuditedCommand):
    help = "Make an API token for USER (e.g. a service account): create_api_token USER --scope operate --days 90"

    def add_arguments(self, parser):
        parser.add_argument("user", help="the Lifeboat user the token acts as (active, with a role)")
        parser.add_argument("--scope", choices=Scope.values, default=Scope.READ)
        parser.add_argument("--days", type=int, default=None, help="days until it expires (default: "
                            "LIFEBOAT_API_TOKEN_DEFAULT_DAYS, capped for single-sign-on users)")
        parser.add_argument("--name", default="", help="what it is for (default: cli-<scope>-<date>)")

    def handle(self, *args, **options):
        from django.conf import settings
        from django.utils import timezone

        user = get_user_model().objects.filter(username=options["user"]).first()
        if user is None or not user.is_active:
            raise CommandError(f"{options['user']}: no active Lifeboat user of that name")
        days = options["days"]
        if days is None:
            days = min(settings.LIFEBOAT_API_TOKEN_DEFAULT_DAYS, tokens.max_days_for(user))
        name = options["name"] or f"cli-{options['scope']}-{timezone.now():%Y%m%d-%H%M%S}"
        try:
            token, plaintext = tokens.issue(user, name, options["scope"], days)
        except tokens.TokenRefused as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Token {token.name!r} for {user.get_username()} ({token.scope}, expires "
                          f"{token.expires_at:%Y-%m-%d %H:%M} UTC); shown once, keep it secret: {plaintext}")
