"""Signals other apps (alerts) listen to, so the audit code does not import them."""

from __future__ import annotations

from django.dispatch import Signal

# sender=None, report=<audit.chain.ChainReport>: the scheduled verification found the chain broken.
audit_chain_broken = Signal()
# sender=None, report=<ChainReport>: every scheduled verification, intact or not (alerts resolve on an intact one).
audit_chain_checked = Signal()
