"""The behaviour suite (tests/integration/behaviour), run against the CloudFormation deployment.

Every behaviour test uses only the ``deployment`` fixture (docs/interfaces.md section 2); here
that fixture is the document read back from the stacks created by moto's CloudFormation
(tests/integration/cloudformation/conftest.py), so the CloudFormation deployment is held to the
same behaviour as the others. The test functions are the behaviour suite's own, imported: every
module but those of NOT_ON_STACKS, which says why (and a test here prints it).
"""

from __future__ import annotations

import sys
from pathlib import Path

from behaviour.test_chaining import *  # noqa: F403
from behaviour.test_faults import *  # noqa: F403
from behaviour.test_follow_new_jobs import *  # noqa: F403
from behaviour.test_hostile_input import *  # noqa: F403
from behaviour.test_lifecycle import *  # noqa: F403
from behaviour.test_limits import *  # noqa: F403
from behaviour.test_live_labels import *  # noqa: F403
from behaviour.test_quarantine_and_crash import *  # noqa: F403
from behaviour.test_reconcile import *  # noqa: F403
from behaviour.test_roll_over import *  # noqa: F403

BEHAVIOUR_DIR = Path(__file__).resolve().parents[1] / "behaviour"
NOT_ON_STACKS = {
    "test_cli": "makes its own SDK deployment (gtlocal deploy) to test the CLI on it",
    "test_load": "the load bench's code path (bench.load.run_load), which makes its own SDK deployment",
    "test_task_types": (
        "per task type, the job request and the emulator's output on one deployment: no resource or "
        "grant differs by task type, and test_terraform_cloudformation_and_the_sdk_deploy_the_same_iam "
        "shows the stacks deploy the SDK deployment's IAM"
    ),
}


def test_every_behaviour_module_runs_on_the_stacks_or_says_why() -> None:
    modules = {p.stem for p in BEHAVIOUR_DIR.glob("test_*.py")}
    imported = {m.removeprefix("behaviour.") for m in sys.modules if m.startswith("behaviour.test_")}
    assert set(NOT_ON_STACKS) <= modules, "a module listed as not run here no longer exists"
    assert modules - set(NOT_ON_STACKS) <= imported, "import the new behaviour module above, or say why not"
    for name, why in sorted(NOT_ON_STACKS.items()):
        print(f"\nbehaviour/{name}.py does not run on the CloudFormation deployment: {why}")
