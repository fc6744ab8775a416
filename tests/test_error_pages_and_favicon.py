"""403, 404 and 500 are pages of the site, with the reason and a way back; /favicon.ico is not a 404."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse


def test_a_403_says_why_inside_the_site_layout(client, stranger):
    client.force_login(stranger)
    page = client.get(reverse("evidence:index"))
    assert page.status_code == 403
    assert "You may not do that" in page.text and 'class="topbar"' in page.text
    assert reverse("home") in page.text


def test_a_404_names_the_missing_path_and_offers_a_way_back(client, dba):
    client.force_login(dba)
    page = client.get("/backups/runs/999999/")
    assert page.status_code == 404
    assert "Nothing here" in page.text and "/backups/runs/999999/" in page.text and 'class="topbar"' in page.text


def test_a_500_is_a_page_of_the_site(db, settings):
    settings.ROOT_URLCONF = "tests.broken_urls"
    page = Client(raise_request_exception=False).get("/")
    assert page.status_code == 500
    assert "Something went wrong on our side" in page.text and "boom" not in page.text


def test_favicon_is_served(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response.url.endswith("favicon.svg")
