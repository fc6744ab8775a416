"""The admin's ModelAdmins are registered when the URL conf is loaded or the admin's checks run, not at start-up
(core.admin_config.AdminConfig), and then exactly as Django's own discovery would: Lifeboat's user admin in place of
Django's, every app's admin, the admin checks over all of them."""

from __future__ import annotations

from tests.helpers import LifeboatProcess


def test_the_url_conf_registers_every_apps_admin_and_lifeboats_user_admin(tmp_path):
    lb = LifeboatProcess(tmp_path)
    before = lb.value("sorted(m._meta.label for m in admin.site._registry)", setup="from django.contrib import admin")
    after = lb.value("[sorted(m._meta.label for m in admin.site._registry), "
                     "type(admin.site._registry[get_user_model()]).__name__]",
                     setup="from django.contrib import admin\nfrom django.contrib.auth import get_user_model\n"
                           "from django.urls import reverse\nreverse('admin:index')")

    assert before == []
    registered, user_admin = after
    assert {"auth.User", "auth.Group", "backups.Database", "backups.Tier", "audit.AuditEvent", "alerts.Alert",
            "drills.Drill", "sso.ExternalIdentity", "otp_totp.TOTPDevice"} <= set(registered)
    assert user_admin == "LifeboatUserAdmin"


def test_the_admin_checks_discover_the_admins_and_check_them(tmp_path):
    lb = LifeboatProcess(tmp_path)
    setup = ("from django.contrib import admin\nfrom core.admin_config import check_admin_app\n"
             "from backups.models import Tier\n"
             "first = [e.id for e in check_admin_app()]\n"
             "admin.site._registry[Tier].list_display = ['no_such_field']\n")

    registered, first, broken = lb.value("[len(admin.site._registry), first, [e.id for e in check_admin_app()]]",
                                         setup=setup)

    assert registered > 20 and first == []
    assert "admin.E108" in broken
