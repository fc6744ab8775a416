"""A person's second factor: one TOTP device (an authenticator app) and one set of recovery codes.

The password step never signs anyone with a device in (views.SignInView): it leaves a pending sign-in in the
session, and only a valid code from the device, or an unused recovery code, completes it.
"""

from __future__ import annotations

import base64
import time

from django.conf import settings
from django.db import transaction
from django_otp import devices_for_user, user_has_device
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit import trail
from core.roles import signs_in_through_provider

RECOVERY_CODES = 10
DEVICE_NAME = "authenticator"
# The sign-in's first step (password accepted, code not yet given), kept this long in the session.
PENDING = "lifeboat_2fa_pending"
PENDING_SECONDS = 300


def has_device(user) -> bool:
    return user_has_device(user, confirmed=True)


def required_for(user) -> bool:
    """Whether the user's role must sign in with a second factor (LIFEBOAT_REQUIRE_2FA_ROLES). Never for single
    sign-on users: their identity provider asks for its own second factor, and they have no local password."""
    roles = settings.LIFEBOAT_REQUIRE_2FA_ROLES
    return (bool(roles) and user.is_authenticated and not signs_in_through_provider(user)
            and user.groups.filter(name__in=roles).exists())


def unconfirmed_device(user) -> TOTPDevice:
    """The device being enrolled: made once, so reloading the page keeps the secret already scanned."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    return device or TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)


def secret_text(device: TOTPDevice) -> str:
    """The secret as authenticator apps take it typed in: base32, in groups of four."""
    text = base64.b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(text[i:i + 4] for i in range(0, len(text), 4))


def qr_code(device: TOTPDevice) -> str:
    """The otpauth:// URL as an SVG QR code in a data: URL (an <img>, allowed by the CSP's img-src data:)."""
    import segno  # only on the enrolment page, not in every command (dashboard/apps.py loads this module)

    return segno.make(device.config_url, error="m").svg_data_uri(scale=5, border=2)


def confirm(device: TOTPDevice, code: str) -> list[str] | None:
    """The first code from the app proves the secret was scanned: the device counts from now on and the person
    gets a fresh set of recovery codes (returned once, never shown again). None: the code was wrong."""
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().get(pk=device.pk)
        if not device.verify_token(code.strip()):
            trail.record("auth.second_factor_failed", actor=device.user, target=device.user,
                         summary=f"{device.user.get_username()}: wrong code while enrolling an authenticator")
            return None
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        TOTPDevice.objects.filter(user=device.user).exclude(pk=device.pk).delete()
        codes = _new_recovery_codes(device.user)
    trail.record("auth.second_factor_added", actor=device.user, target=device.user,
                 summary=f"{device.user.get_username()} added an authenticator and {RECOVERY_CODES} recovery codes")
    return codes


def _new_recovery_codes(user) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name="recovery codes", confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


def regenerate_recovery_codes(user) -> list[str]:
    """A new set of recovery codes; the old ones stop working."""
    with transaction.atomic():
        codes = _new_recovery_codes(user)
    trail.record("auth.recovery_codes_replaced", actor=user, target=user,
                 summary=f"{user.get_username()} replaced their recovery codes")
    return codes


def recovery_codes_left(user) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def check(user, code: str) -> Device | None:
    """The device (authenticator or recovery codes) that accepts `code`, or None, audited either way.

    django-otp refuses a TOTP code already used (replay), deletes a recovery code once used, and throttles
    each device after a wrong code (1, 2, 4... seconds)."""
    code = "".join(code.split())
    with transaction.atomic():
        accepted = next((d for d in devices_for_user(user, for_verify=True) if d.verify_token(code)), None)
    name = user.get_username()
    if accepted is None:
        trail.record("auth.second_factor_failed", actor=user, target=user,
                     summary=f"{name}: wrong second-factor code at sign-in")
    elif isinstance(accepted, StaticDevice):
        trail.record("auth.recovery_code_used", actor=user, target=user,
                     summary=f"{name} signed in with a recovery code ({recovery_codes_left(user)} left)")
    return accepted


def remove(user) -> None:
    """Remove the authenticator and the recovery codes (the person enrols again from scratch); audited by
    device_removed, which also sees a removal made in the admin (a lost phone)."""
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        StaticDevice.objects.filter(user=user).delete()


def device_removed(sender, instance: TOTPDevice, **kwargs) -> None:
    """post_delete of a TOTP device: an enrolled one leaving is an audit event, whoever removed it."""
    if instance.confirmed:
        user = instance.user
        trail.record("auth.second_factor_removed", target=user,
                     summary=f"the authenticator of {user.get_username()} was removed")


def begin_sign_in(session, user, backend: str) -> None:
    """The password was right: remember who is half-way through signing in (not signed in yet)."""
    session[PENDING] = {"user": user.pk, "backend": backend, "at": time.time()}


def pending_sign_in(session):
    """(user, backend) of a pending sign-in that has not expired, or None."""
    from django.contrib.auth import get_user_model

    pending = session.get(PENDING)
    if not pending or time.time() - pending["at"] > PENDING_SECONDS:
        return None
    user = get_user_model().objects.filter(pk=pending["user"], is_active=True).first()
    return (user, pending["backend"]) if user is not None else None
