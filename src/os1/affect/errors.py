"""Errors of the affect engine, each worded so the user knows what to do next."""

from __future__ import annotations


class AffectError(Exception):
    """The emotion or strategy model is missing or damaged, or mood data cannot be read."""
