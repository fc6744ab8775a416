"""Settings helpers that fail loudly: a malformed value is a configuration error, never a silent default."""

from __future__ import annotations

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use 1/0, true/false, yes/no, on/off)")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer") from None


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_secret(name: str, default: str | None = None) -> str | None:
    """Read NAME, or the contents of the file named by NAME_FILE (Docker/Kubernetes secrets)."""
    file_name = os.environ.get(f"{name}_FILE")
    if file_name:
        try:
            return Path(file_name).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={file_name!r} cannot be read: {exc}") from None
    return os.environ.get(name, default)


def persistent_secret(path: Path) -> str:
    """A random secret kept in a file, so a demo install has a stable SECRET_KEY without configuration."""
    from django.core.management.utils import get_random_secret_key

    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = get_random_secret_key()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


# --- Secrets by reference -------------------------------------------------------------------------------------
# A field that names an environment variable (a password, a channel URL) makes the process read that variable
# and send its value somewhere an Admin chose. Only names meant for it may be named: LIFEBOAT_* and the names an
# operator lists in LIFEBOAT_SECRET_ENV_ALLOW, never AWS_SECRET_ACCESS_KEY, SECRET_KEY or DATABASE_URL.
SECRET_ENV_PREFIX = "LIFEBOAT_"


def secret_env_refusal(name: str, allowed: list[str] | None = None) -> str | None:
    """Why `name` may not be used as a secret reference, or None when it may."""
    if allowed is None:
        from django.conf import settings

        allowed = list(getattr(settings, "LIFEBOAT_SECRET_ENV_ALLOW", []))
    if not name or name.startswith(SECRET_ENV_PREFIX) or name in allowed:
        return None
    return (f"environment variable {name} may not hold a secret for Lifeboat: use a name starting with "
            f"{SECRET_ENV_PREFIX} or list it in LIFEBOAT_SECRET_ENV_ALLOW")


def validate_secret_env(name: str) -> None:
    """Django field validator (admin, add_database): the one-line refusal as a ValidationError."""
    from django.core.exceptions import ValidationError

    refusal = secret_env_refusal(name)
    if refusal:
        raise ValidationError(refusal)
