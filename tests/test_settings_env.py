import pytest
from django.core.exceptions import ImproperlyConfigured

from core.env import env_bool, env_int, env_secret


def test_malformed_values_fail_loudly(monkeypatch):
    monkeypatch.setenv("LB_FLAG", "maybe")
    monkeypatch.setenv("LB_NUM", "ten")
    with pytest.raises(ImproperlyConfigured, match="LB_FLAG"):
        env_bool("LB_FLAG")
    with pytest.raises(ImproperlyConfigured, match="LB_NUM"):
        env_int("LB_NUM", 1)


def test_secret_from_file(monkeypatch, tmp_path):
    (tmp_path / "s").write_text("hunter2\n")
    monkeypatch.setenv("LB_SECRET_FILE", str(tmp_path / "s"))
    assert env_secret("LB_SECRET") == "hunter2"


def test_debug_is_off_unless_asked(settings):
    import os

    if "DEBUG" not in os.environ:
        assert settings.DEBUG is False
