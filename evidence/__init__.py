"""The SOC 2 / ISO 27001 evidence package: populations of one period, streamed into a zip with a manifest.

period.py (what was asked), controls.py (the control mapping), populations.py (the registry of what goes in),
zipstream.py (hashing, streaming writers), summary.py (the printable summary), tier_config.py (tiers and
their live bucket settings), export.py (puts it together), sampling.py (reproducible samples), views.py.
"""
