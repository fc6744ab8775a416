"""Records of what happened are shown in the admin, never added, changed or deleted there, even by a superuser."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.test import RequestFactory

from alerts.models import Alert, Notification
from audit.models import AuditEvent
from drills.models import SignOff
from evidence.models import EvidenceExport, EvidenceSample


@pytest.mark.parametrize("model", [AuditEvent, Alert, Notification, SignOff, EvidenceExport, EvidenceSample])
def test_record_admins_refuse_add_change_delete_to_a_superuser(model):
    request = RequestFactory().get("/admin/")
    request.user = User(username="root", is_superuser=True, is_staff=True, is_active=True)
    admin.autodiscover()  # as the URL conf does: the apps register their admins when discovered (core/admin_config.py)
    model_admin = admin.site._registry[model]
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)
    assert model_admin.has_view_permission(request)
