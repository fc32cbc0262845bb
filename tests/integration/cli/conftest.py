"""Fixtures of the gtctl tests (the project itself is built in cli_project.py)."""

from cli_project import project

__all__ = ["project"]
