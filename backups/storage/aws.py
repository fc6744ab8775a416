"""boto3 clients for a tier. Credentials come only from the standard AWS chain (environment, shared config,
instance or task role); a tier names its region and, for S3-compatible stores, an endpoint URL.
"""

from __future__ import annotations

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings

from backups.models import Tier

# Errors a boto3 call can raise; callers turn them into one-line StorageErrors.
AWS_ERRORS = (BotoCoreError, ClientError)


def client_for(tier: Tier, service: str = "s3", profile: str = ""):
    """A client with botocore's standard retry mode (exponential backoff with jitter) and bounded timeouts.

    `profile` names a shared-config profile: the separate admin identity that may change bucket configuration
    (`apply_bucket_policy --profile`), which the runtime identity may not."""
    config = Config(
        retries={"mode": "standard", "max_attempts": settings.LIFEBOAT_AWS_MAX_ATTEMPTS},
        connect_timeout=settings.LIFEBOAT_AWS_TIMEOUT_SECONDS, read_timeout=settings.LIFEBOAT_AWS_TIMEOUT_SECONDS,
    )
    session = boto3.session.Session(profile_name=profile or None)
    return session.client(service, region_name=tier.region or None, endpoint_url=tier.endpoint_url or None,
                          config=config)


def error_text(exc: Exception) -> str:
    """One line: the service's error code and message when there is one."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'error')}: {error.get('Message', '') or exc}"
    return str(exc) or repr(exc)


def error_code(exc: Exception) -> str:
    return exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else ""
