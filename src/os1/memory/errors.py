"""Errors of the memory engine, each worded so the user knows what to do next."""

from __future__ import annotations


class MemoryError_(Exception):
    """Base of memory errors (trailing underscore: ``MemoryError`` is a Python built-in)."""


class EmbedderError(MemoryError_):
    """The embedding model is missing or damaged."""


class MemoryNotFoundError(MemoryError_):
    """No memory with that id belongs to this user."""
