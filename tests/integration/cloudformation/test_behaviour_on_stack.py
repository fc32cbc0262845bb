"""The behaviour suite (tests/integration/behaviour), run against the CloudFormation deployment.

Every behaviour test uses only the ``deployment`` fixture (docs/interfaces.md section 2); here
that fixture is the document read back from the stacks created by moto's CloudFormation
(tests/integration/cloudformation/conftest.py), so the CloudFormation deployment is held to the
same behaviour as the others. The test functions are the behaviour suite's own, imported.
"""

from __future__ import annotations

from behaviour.test_chaining import *  # noqa: F403
from behaviour.test_faults import *  # noqa: F403
from behaviour.test_hostile_input import *  # noqa: F403
from behaviour.test_lifecycle import *  # noqa: F403
