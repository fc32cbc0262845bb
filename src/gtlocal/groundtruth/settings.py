"""The emulator's documented settings: every behaviour the AWS documentation leaves open.

Served by ``GET/POST /_groundtruth/settings``; ``POST /_groundtruth/reset`` restores the defaults.
Each default follows the AWS page named beside it (the table is in ``src/gtlocal/README.md``).
Nothing here imports the rest of the emulator.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from gtlocal.errors import ControlError

TERMINAL_STATUSES = ("Completed", "Failed", "Stopped")

# Setting name -> the values it accepts (the first one is the default).
CHOICES: dict[str, tuple[str, ...]] = {
    # "Monitor Labeling Job Status": events for status changes to Completed, Failed or Stopped
    # ("Valid values for Status are Completed, Failed, and Stopped"); "all" adds Initializing,
    # InProgress and Stopping, which AWS does not document.
    "state_change_events": ("terminal", "all"),
    # "Stop a Streaming Labeling Job": an idle job "is automatically stopped".
    "idle_stop_status": ("Stopped", "Completed", "Failed"),
    # CreateLabelingJob, LabelingJobStoppingConditions: "Labeling jobs fail after 30 days with an
    # appropriate client error message."
    "expiry_status": ("Failed", "Completed", "Stopped"),
    # What an ended job's output manifest holds for objects never labeled: the "Output Data" page
    # writes an unlabeled object "identically to the manifest file", and "Chaining labeling jobs"
    # labels the objects without the label attribute in the chained job; the exact shape at the
    # end of a stopped or expired job is not documented.
    "unlabeled_in_output": ("plain", "failure-metadata", "omitted"),
    # What workers do with a box or mask task whose image does not load (missing, not an image):
    # not documented. "failed": the object fails (no label, a failure-reason); "declined": every
    # worker declines it, so it expires ("if every assigned worker declines an object, it is
    # marked expired"). Neither labels it: the local cloud is not kinder than AWS.
    "unloadable_image": ("failed", "declined"),
}
SECONDS = ("initializing_seconds", "stopping_seconds", "job_expiry_seconds", "idle_stop_seconds")


@dataclass
class Settings:
    """The emulator settings (see CHOICES for the documented choices and their pages)."""

    state_change_events: str = CHOICES["state_change_events"][0]
    idle_stop_status: str = CHOICES["idle_stop_status"][0]
    expiry_status: str = CHOICES["expiry_status"][0]
    # Events are delivered at least once; EventBridge may deliver one change several times.
    duplicate_events: int = 1
    unlabeled_in_output: str = CHOICES["unlabeled_in_output"][0]
    unloadable_image: str = CHOICES["unloadable_image"][0]
    # How long a new job stays Initializing (not documented; a choice of this emulator).
    initializing_seconds: float = 1.0
    # How long Stopping lasts before Stopped (not documented).
    stopping_seconds: float = 0.0
    # "Labeling jobs fail after 30 days" (LabelingJobStoppingConditions).
    job_expiry_seconds: float = 30 * 86_400.0
    # "If your labeling job remains idle for over 10 days, it is automatically stopped"
    # ("Stop a Streaming Labeling Job").
    idle_stop_seconds: float = 10 * 86_400.0
    # Seed of the simulated workers' answers (with the job name: the same job gets the same labels).
    label_seed: int = 0
    # How often a simulated verification worker picks the LAST category (e.g. "bad" of
    # ["good", "bad"]): workers' answers are not documented; None picks uniformly among all.
    verification_last_category_fraction: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def update(self, changes: dict[str, Any]) -> None:
        """Apply ``changes`` after checking all of them (a rejected update changes nothing)."""
        known = {f.name for f in fields(self)}
        checked: dict[str, Any] = {}
        for key, value in changes.items():
            if key not in known:
                raise ControlError(f"unknown setting {key!r}; known: {sorted(known)}")
            checked[key] = _checked(key, value)
        for key, value in checked.items():
            setattr(self, key, value)


def _checked(key: str, value: Any) -> Any:
    if key in CHOICES:
        if value not in CHOICES[key]:
            raise ControlError(f"{key} must be one of {list(CHOICES[key])}, got {value!r}")
        return value
    if key == "duplicate_events":
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ControlError(f"duplicate_events must be an integer >= 1, got {value!r}")
        return value
    if key == "verification_last_category_fraction":
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise ControlError(f"{key} must be null or a number from 0 to 1, got {value!r}")
        return float(value)
    if key == "label_seed":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ControlError(f"label_seed must be an integer, got {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ControlError(f"{key} must be a number >= 0, got {value!r}")
    return float(value)
