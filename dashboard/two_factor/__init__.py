"""Two-factor sign-in for local accounts (django-otp): a TOTP authenticator and single-use recovery codes.

devices.py holds what a second factor is and does (enrol, confirm, check a code, recovery codes, remove), every
change and every refused code an audit event; views.py the account page and the sign-in's second step;
middleware.py keeps a half-signed-in or not-yet-enrolled person out of everything else.
"""
