"""A URLconf whose home view raises, for the 500 page test."""

from django.urls import path


def _broken(request):
    raise RuntimeError("boom")


urlpatterns = [path("", _broken, name="home")]
