"""Version 1 of the API: its routes, its error bodies, and its OpenAPI document at /api/v1/openapi.json.

The interactive documentation (/api/v1/docs) is django-ninja's Swagger UI served from our own static files (no
CDN; its settings travel in a JSON data block, so no inline script runs): it works under `default-src 'self'`.
"""

from __future__ import annotations

import json

from django.shortcuts import render
from ninja import NinjaAPI
from ninja.openapi.docs import Swagger

from api import problems
from api.routes import copies, databases, evidence, runs, watch

DESCRIPTION = """Lifeboat's API, for automation: back up before a migration, check freshness from a script, fetch
evidence for an audit.

Authenticate with a personal token (`Authorization: Bearer lbt_...`), made on /account/tokens/ or with
`manage.py create_api_token`. A token does at most what its scope allows (read < operate < admin) and what its
user's role allows now. Long-running actions answer 202 with the job's URL to poll. Errors are
`application/problem+json` (RFC 9457)."""

class LocalSwagger(Swagger):
    """ninja's own Swagger page and static files, always: ninja falls back to a CDN page unless "ninja" is an
    installed app, which would load ninja and pydantic into every command (settings add its template and static
    directories instead)."""

    def render_page(self, request, api, **kwargs):
        self.settings["url"] = self.get_openapi_url(api, kwargs)
        return render(request, self.template, {"swagger_settings": json.dumps(self.settings, indent=1), "api": api,
                                               "add_csrf": False})


api = NinjaAPI(title="Lifeboat API", version="1", description=DESCRIPTION, urls_namespace="api-v1",
               openapi_url="/openapi.json", docs=LocalSwagger(settings={"tryItOutEnabled": False}), docs_url="/docs")
problems.install(api)
for module in (databases, runs, copies, watch, evidence):
    api.add_router("/", module.router)
