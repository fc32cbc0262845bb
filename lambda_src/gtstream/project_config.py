"""The published project config (docs/interfaces.md section 5): the contract's
``gtcontract.project_config``, validated there by the same code the publisher and ``gtctl`` use."""

from __future__ import annotations

from gtcontract.project_config import (
    BUILTIN_LAMBDA_ACCOUNTS,
    CONTENT_CLASSIFIERS,
    DEFAULT_PREPROCESSING,
    TASK_TYPES,
    Preprocessing,
    ProjectConfig,
    ProjectConfigError,
)

__all__ = [
    "BUILTIN_LAMBDA_ACCOUNTS",
    "CONTENT_CLASSIFIERS",
    "DEFAULT_PREPROCESSING",
    "TASK_TYPES",
    "Preprocessing",
    "ProjectConfig",
    "ProjectConfigError",
]
