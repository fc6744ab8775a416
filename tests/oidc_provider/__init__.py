"""A real OpenID Connect provider for the single sign-on tests: django-oauth-toolkit's OIDC support in a small
Django project of its own, served on loopback by a subprocess (provider.py starts it)."""
