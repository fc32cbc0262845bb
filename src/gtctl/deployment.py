"""Finding a project: the deployment document of docs/interfaces.md section 2.

The document, its parser and the SDK-free loaders are the contract's (``gtcontract.deployment``);
this module turns their errors into gtctl's one-line errors. A project is found, in this order, from
1. ``--deployment FILE`` (or env ``GTCTL_DEPLOYMENT``): the JSON document written by
   ``gtlocal deploy`` or by ``terraform output -json deployment > FILE``;
2. ``--terraform-dir DIR`` (or env ``GTCTL_TERRAFORM_DIR``): ``terraform output -json deployment``
   run in DIR (a root module that outputs ``deployment``);
3. ``--prefix P`` (or env ``GTCTL_PREFIX``): discovery in the account and region of the current
   credentials (``gtctl.aws.discover``): the project's Lambda functions carry the environment of
   section 3 (``PROJECT_PREFIX=P``), from which the document is rebuilt.
"""

from __future__ import annotations

from pathlib import Path

from gtcontract import names
from gtcontract.deployment import Deployment, DeploymentError, load_deployment_file, load_terraform_deployment
from gtctl.errors import GtctlError

__all__ = ["Deployment", "check_prefix", "load_file", "load_terraform"]


def load_file(path: Path) -> Deployment:
    try:
        return load_deployment_file(path)
    except DeploymentError as exc:
        raise GtctlError(str(exc)) from None


def load_terraform(directory: Path) -> Deployment:
    try:
        return load_terraform_deployment(directory)
    except DeploymentError as exc:
        raise GtctlError(f"{exc} (--terraform-dir)") from None


def check_prefix(prefix: str) -> str:
    try:
        return names.check_prefix(prefix)
    except ValueError as exc:
        raise GtctlError(str(exc)) from None
