from functools import wraps

from django.urls import path

from api import views
from api.problems import not_found_view, problem_response
from api.v1 import api


def _problem_on_405(view):
    """django-ninja answers a method a path does not take with a plain-text 405: make it a problem too."""

    @wraps(view)  # keeps csrf_exempt and the rest of the view's attributes
    def wrapped(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        if response.status_code == 405:
            return problem_response(405, f"{request.method} is not allowed here (allowed: {response['Allow']})",
                                    headers={"Allow": response["Allow"]})
        return response

    return wrapped


# (patterns, app, namespace), unpacked under names a URLconf does not read (`app_name` would namespace this module).
_v1_patterns, _v1_app, _v1_namespace = api.urls
for _pattern in _v1_patterns:
    _pattern.callback = _problem_on_405(_pattern.callback)

urlpatterns = [
    # Before django-ninja's own root view, whose 404 would be the site's HTML page.
    path("api/v1/", not_found_view, name="api_root"),
    path("api/v1/", (_v1_patterns, _v1_app, _v1_namespace)),
    path("api/v1/<path:rest>", not_found_view, name="api_not_found"),  # a problem, not the site's HTML 404
    path("account/tokens/", views.token_list, name="api_tokens"),
    path("account/tokens/<int:pk>/revoke/", views.token_revoke, name="api_token_revoke"),
]
