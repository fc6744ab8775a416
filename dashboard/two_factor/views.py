"""The account's two-factor page (enrol, recovery codes, remove) and the sign-in's second step."""

from __future__ import annotations

import django_otp
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_http_methods

from dashboard.two_factor import devices
from dashboard.two_factor.forms import CodeForm
from sso.views import SignInPage

WRONG_CODE = "That code is not valid, or was already used. Wait for the next one and try again."


class SignInView(SignInPage):
    """The password step (beside the single sign-on button). Whoever has a second factor is not signed in yet:
    the code step completes it."""

    def form_valid(self, form):
        user = form.get_user()
        if not devices.has_device(user):
            return super().form_valid(form)
        devices.begin_sign_in(self.request.session, user, user.backend)
        return redirect(f"{reverse('two_factor:sign_in')}?{urlencode({'next': self.get_success_url()})}")


def _safe_next(request) -> str:
    wanted = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(wanted, allowed_hosts={request.get_host()},
                                       require_https=request.is_secure()):
        return wanted
    return resolve_url("home")


@require_http_methods(["GET", "POST"])
def sign_in(request):
    """The second step: a code from the authenticator (or a recovery code) signs the pending user in."""
    pending = devices.pending_sign_in(request.session)
    if pending is None:
        return redirect("login")
    user, backend = pending
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = devices.check(user, form.cleaned_data["code"])
        if device is not None:
            request.session.pop(devices.PENDING, None)
            user.otp_device = device  # django-otp marks the new session verified by this device
            auth_login(request, user, backend=backend)
            return redirect(_safe_next(request))
        form.add_error("code", WRONG_CODE)
    return render(request, "account/two_factor_sign_in.html",
                  {"form": form, "next": _safe_next(request), "username": user.get_username()})


@login_required
@require_http_methods(["GET", "POST"])
def manage(request):
    """Enrol an authenticator (QR code and secret, confirmed by its first code), then see or replace the
    recovery codes (shown once), or remove the second factor (a current code needed)."""
    user = request.user
    action = request.POST.get("action", "")
    form = CodeForm(request.POST if action in ("confirm", "remove") else None)
    if not devices.has_device(user):
        device = devices.unconfirmed_device(user)
        if action == "confirm" and form.is_valid():
            codes = devices.confirm(device, form.cleaned_data["code"])
            if codes is not None:
                django_otp.login(request, device)  # this session proved the device: it stays signed in
                return _enrolled(request, codes=codes)
            form.add_error("code", WRONG_CODE)
        return render(request, "account/two_factor.html", {
            "enrolled": False, "form": form, "qr_code": devices.qr_code(device),
            "secret": devices.secret_text(device), "required": devices.required_for(user)})
    if action == "regenerate":
        return _enrolled(request, codes=devices.regenerate_recovery_codes(user))
    if action == "remove" and form.is_valid():
        if devices.check(user, form.cleaned_data["code"]) is None:
            form.add_error("code", WRONG_CODE)
        else:
            devices.remove(user)
            messages.success(request, "Two-factor sign-in removed.")
            return redirect("two_factor:manage")
    return _enrolled(request, form=form)


def _enrolled(request, *, codes: list[str] | None = None, form: CodeForm | None = None):
    return render(request, "account/two_factor.html", {
        "enrolled": True, "codes": codes, "form": form or CodeForm(),
        "codes_left": devices.recovery_codes_left(request.user), "required": devices.required_for(request.user)})
