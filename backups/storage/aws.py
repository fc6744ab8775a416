"""boto3 clients for a tier. Credentials come only from the standard AWS chain (environment, shared config,
instance or task role); a tier names its region and, for S3-compatible stores, an endpoint URL.
"""

from __future__ import annotations

from django.conf import settings

from backups.models import Tier

# boto3 takes a few hundred milliseconds to import: it is imported here, when a client is made, never at start-up
# (a backup to a local tier never loads it). Callers catch `aws.AWS_ERRORS`, read from the module when an error
# reaches the except clause (after a boto3 call, so botocore is already loaded by then).


def __getattr__(name: str):
    if name == "AWS_ERRORS":  # errors a boto3 call can raise; callers turn them into one-line StorageErrors
        from botocore.exceptions import BotoCoreError, ClientError

        return (BotoCoreError, ClientError)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def client_for(tier: Tier, service: str = "s3", profile: str = ""):
    """A client with botocore's standard retry mode (exponential backoff with jitter) and bounded timeouts.

    `profile` names a shared-config profile: the separate admin identity that may change bucket configuration
    (`apply_bucket_policy --profile`), which the runtime identity may not."""
    import boto3
    from botocore.config import Config

    config = Config(
        retries={"mode": "standard", "max_attempts": settings.LIFEBOAT_AWS_MAX_ATTEMPTS},
        connect_timeout=settings.LIFEBOAT_AWS_TIMEOUT_SECONDS, read_timeout=settings.LIFEBOAT_AWS_TIMEOUT_SECONDS,
    )
    session = boto3.session.Session(profile_name=profile or None)
    return session.client(service, region_name=tier.region or None, endpoint_url=tier.endpoint_url or None,
                          config=config)


def error_text(exc: Exception) -> str:
    """One line: the service's error code and message when there is one."""
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'error')}: {error.get('Message', '') or exc}"
    return str(exc) or repr(exc)


def error_code(exc: Exception) -> str:
    from botocore.exceptions import ClientError

    return exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else ""
