"""Fixtures of the gtstream unit tests (the in-process world is built in gtstream_world.py)."""

from gtstream_world import world

__all__ = ["world"]
