from django.urls import path

from api import views
from api.problems import not_found_view
from api.v1 import api

urlpatterns = [
    # Before django-ninja's own root view, whose 404 would be the site's HTML page.
    path("api/v1/", not_found_view, name="api_root"),
    path("api/v1/", api.urls),
    path("api/v1/<path:rest>", not_found_view, name="api_not_found"),  # a problem, not the site's HTML 404
    path("account/tokens/", views.token_list, name="api_tokens"),
    path("account/tokens/<int:pk>/revoke/", views.token_revoke, name="api_token_revoke"),
]
