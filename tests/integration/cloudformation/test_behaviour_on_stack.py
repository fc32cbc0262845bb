"""The behaviour suite (tests/integration/behaviour), run against the CloudFormation deployment.

Every behaviour test uses only the ``deployment`` fixture (docs/interfaces.md section 2); here
that fixture is the document read back from the stacks created by moto's CloudFormation
(tests/integration/cloudformation/conftest.py), so the CloudFormation deployment is held to the
same behaviour as the others. The test functions are the behaviour suite's own, imported: every
module but ``test_cli`` (which makes its own SDK deployment through the ``gtlocal`` CLI).
"""

from __future__ import annotations

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
