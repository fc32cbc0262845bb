"""The behaviour suite (tests/integration/behaviour), run against the CloudFormation deployment.

Every behaviour test uses only the ``deployment`` fixture (docs/interfaces.md section 2); here
that fixture is the document read back from the stacks created by moto's CloudFormation
(tests/integration/cloudformation/conftest.py), so the CloudFormation deployment is held to the
same behaviour as the others. The test functions are the behaviour suite's own, imported: every
module but those of SDK_ONLY_MODULES, which says why (and a test here prints it).
"""

from __future__ import annotations

import sys
from pathlib import Path

from behaviour.conftest import SDK_ONLY_MODULES
from behaviour.test_chaining import *  # noqa: F403
from behaviour.test_faults import *  # noqa: F403
from behaviour.test_follow_new_jobs import *  # noqa: F403
from behaviour.test_hostile_input import *  # noqa: F403
from behaviour.test_lifecycle import *  # noqa: F403
from behaviour.test_limits import *  # noqa: F403
from behaviour.test_live_labels import *  # noqa: F403
from behaviour.test_quarantine_and_crash import *  # noqa: F403
from behaviour.test_reconcile import *  # noqa: F403
from behaviour.test_review_stages import *  # noqa: F403
from behaviour.test_roll_over import *  # noqa: F403

BEHAVIOUR_DIR = Path(__file__).resolve().parents[1] / "behaviour"


def test_every_behaviour_module_runs_on_the_stacks_or_says_why() -> None:
    modules = {p.stem for p in BEHAVIOUR_DIR.glob("test_*.py")}
    imported = {m.removeprefix("behaviour.") for m in sys.modules if m.startswith("behaviour.test_")}
    assert set(SDK_ONLY_MODULES) <= modules, "a module listed as not run here no longer exists"
    assert modules - set(SDK_ONLY_MODULES) <= imported, "import the new behaviour module, or say why not"
    for name, why in sorted(SDK_ONLY_MODULES.items()):
        print(f"\nbehaviour/{name}.py does not run on the CloudFormation deployment: {why}")
