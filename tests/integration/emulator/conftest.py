"""Fixtures of the emulator tests."""

from __future__ import annotations

import pytest
from emulator_world import World, make_world

from gtlocal.testing import LocalCloud


@pytest.fixture
def world(cloud: LocalCloud) -> World:
    return make_world(cloud)
