"""Lambda settings, parsed once from the environment: the contract's ``gtcontract.settings``."""

from __future__ import annotations

from gtcontract.settings import ENV_VARIABLES, Settings, SettingsError

# The name this module gave the error before the settings moved to the contract.
ConfigError = SettingsError

__all__ = ["ENV_VARIABLES", "ConfigError", "Settings", "SettingsError"]
