"""buildspec.yml: parse it (version 0.2) and turn its phases into one bash script.

What CodeBuild documents and the script does (Build specification reference,
https://docs.aws.amazon.com/codebuild/latest/userguide/build-spec-ref.html; Build phase
transitions, https://docs.aws.amazon.com/codebuild/latest/userguide/view-build-details-phases.html):

- phases ``install``, ``pre_build``, ``build``, ``post_build``, each with ``commands``, ``finally``
  and ``on-failure`` (``ABORT``, the default, or ``CONTINUE``); ``runtime-versions`` of ``install``
  are checked against the image before anything runs (``gtlocal.pipelines.buildenv``);
- version 0.2 runs every command of every phase in one shell instance, so ``cd`` and variables carry
  over (version 0.1 ran each command in its own shell; it is refused here);
- a command that exits non-zero fails its phase, and the phase's other commands do not run; its
  ``finally`` commands still do;
- a failed ``install`` or ``pre_build`` ends the build (FINALIZING); ``post_build`` runs after
  ``build`` whether it succeeded or not, and ``CODEBUILD_BUILD_SUCCEEDING`` says which (1 / 0);
- ``env.variables`` are plain-text variables (the project's environment variables override them);
  ``env.parameter-store`` / ``env.secrets-manager`` are not modelled and refused with that reason;
  ``env.shell`` may only be ``bash`` (the default on Linux images).

The script (``bash script.sh <status file>``) reports each phase in the status file (``START
<phase> <epoch>``, ``END <phase> SUCCEEDED <epoch>``, ``END <phase> FAILED <epoch> <exit status>
<list> <index>``) and writes the
CodeBuild-style log lines (``[Container] <time> Running command ...``) to its output.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Any

import yaml

PHASES = ("install", "pre_build", "build", "post_build")
PHASE_TYPES = {"install": "INSTALL", "pre_build": "PRE_BUILD", "build": "BUILD", "post_build": "POST_BUILD"}


class BuildspecError(ValueError):
    """A buildspec CodeBuild would refuse (YAML_FILE_ERROR), or one that uses what is not modelled."""


@dataclass(frozen=True)
class Phase:
    name: str
    commands: tuple[str, ...] = ()
    finally_commands: tuple[str, ...] = ()
    on_failure: str = "ABORT"
    runtime_versions: dict[str, str] = field(default_factory=dict)

    @property
    def phase_type(self) -> str:
        return PHASE_TYPES[self.name]


@dataclass(frozen=True)
class Buildspec:
    version: str
    variables: dict[str, str]
    phases: dict[str, Phase]


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str | int | float | bool) for v in value):
        raise BuildspecError(f"{where} must be a list of commands")
    return tuple(str(v).lower() if isinstance(v, bool) else str(v) for v in value)


def parse(text: str) -> Buildspec:
    """Parse a buildspec; ``BuildspecError`` with CodeBuild's kind of message when it is invalid."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise BuildspecError(f"YAML_FILE_ERROR: {str(exc).splitlines()[0]}") from None
    if not isinstance(document, dict):
        raise BuildspecError("YAML_FILE_ERROR: the buildspec must be a YAML mapping")
    version = str(document.get("version", ""))
    if version != "0.2":
        raise BuildspecError(
            f"YAML_FILE_ERROR: version {version or '(missing)'} is not supported here; write version: 0.2"
        )
    env = document.get("env") or {}
    if not isinstance(env, dict):
        raise BuildspecError("YAML_FILE_ERROR: env must be a mapping")
    for unsupported in ("parameter-store", "secrets-manager"):
        if env.get(unsupported):
            raise BuildspecError(
                f"env.{unsupported} is not modelled by the local cloud; "
                "use the project's environment variables"
            )
    shell = env.get("shell", "bash")
    if shell != "bash":
        raise BuildspecError(f"env.shell {shell!r} is not supported by the local cloud; use bash")
    variables = env.get("variables") or {}
    if not isinstance(variables, dict):
        raise BuildspecError("YAML_FILE_ERROR: env.variables must be a mapping")
    phases_doc = document.get("phases") or {}
    if not isinstance(phases_doc, dict):
        raise BuildspecError("YAML_FILE_ERROR: phases must be a mapping")
    unknown = sorted(set(phases_doc) - set(PHASES))
    if unknown:
        raise BuildspecError(
            f"YAML_FILE_ERROR: unknown phase(s) {', '.join(unknown)}; use {', '.join(PHASES)}"
        )
    phases: dict[str, Phase] = {}
    for name in PHASES:
        body = phases_doc.get(name)
        if body is None:
            continue
        if not isinstance(body, dict):
            raise BuildspecError(f"YAML_FILE_ERROR: phases.{name} must be a mapping")
        on_failure = str(body.get("on-failure", "ABORT")).upper()
        if on_failure not in ("ABORT", "CONTINUE"):
            raise BuildspecError(f"YAML_FILE_ERROR: phases.{name}.on-failure must be ABORT or CONTINUE")
        runtimes = body.get("runtime-versions") or {}
        if runtimes and name != "install":
            raise BuildspecError("YAML_FILE_ERROR: runtime-versions is only allowed in the install phase")
        if not isinstance(runtimes, dict):
            raise BuildspecError("YAML_FILE_ERROR: runtime-versions must be a mapping")
        phases[name] = Phase(
            name,
            _strings(body.get("commands"), f"phases.{name}.commands"),
            _strings(body.get("finally"), f"phases.{name}.finally"),
            on_failure,
            {str(k): str(v) for k, v in runtimes.items()},
        )
    return Buildspec(version, {str(k): str(v) for k, v in variables.items()}, phases)


_PRELUDE = r"""
exec 3>"$1"
set --
__gt_log() { printf '[Container] %s %s\n' "$(date -u '+%Y/%m/%d %H:%M:%S.%6N')" "$*"; }
__gt_now() { date -u '+%s.%N'; }
__gt_run_list() {
  local -n __gt_list_ref="$1"
  local __gt_i=0 __gt_cmd __gt_rc __gt_list_name="$1"
  set --
  for __gt_cmd in "${__gt_list_ref[@]}"; do
    __gt_log "Running command $__gt_cmd"
    eval "$__gt_cmd"
    __gt_rc=$?
    if [ "$__gt_rc" -ne 0 ]; then
      __gt_log "Command did not exit successfully $__gt_cmd exit status $__gt_rc"
      if [ -z "$__gt_failed_list" ]; then
        __gt_failed_list="$__gt_list_name"; __gt_failed_index="$__gt_i"; __gt_failed_rc="$__gt_rc"
      fi
      return 1
    fi
    __gt_i=$((__gt_i + 1))
  done
  return 0
}
__gt_phase() {
  local __gt_name="$1" __gt_on_failure="$2" __gt_ok=0 __gt_commands="$3" __gt_finally="$4"
  set --
  __gt_failed_list=""; __gt_failed_index=""; __gt_failed_rc=""
  __gt_log "Entering phase $__gt_name"
  printf 'START %s %s\n' "$__gt_name" "$(__gt_now)" >&3
  __gt_run_list "$__gt_commands" || __gt_ok=1
  __gt_run_list "$__gt_finally" || __gt_ok=1
  if [ "$__gt_ok" -eq 0 ]; then
    __gt_log "Phase complete: $__gt_name State: SUCCEEDED"
    __gt_log "Phase context status code:  Message: "
    printf 'END %s SUCCEEDED %s\n' "$__gt_name" "$(__gt_now)" >&3
    return 0
  fi
  CODEBUILD_BUILD_SUCCEEDING=0
  __gt_log "Phase complete: $__gt_name State: FAILED"
  printf 'END %s FAILED %s %s %s %s\n' "$__gt_name" "$(__gt_now)" \
    "$__gt_failed_rc" "$__gt_failed_list" "$__gt_failed_index" >&3
  [ "$__gt_on_failure" = CONTINUE ]
}
export CODEBUILD_BUILD_SUCCEEDING=1
"""


def _array(name: str, commands: tuple[str, ...]) -> str:
    return f"{name}=({' '.join(shlex.quote(c) for c in commands)})"


def script(spec: Buildspec) -> str:
    """The bash script that runs the buildspec's phases in one shell (version 0.2)."""
    lines = ["#!/bin/bash", _PRELUDE.strip()]
    for name in PHASES:
        phase = spec.phases.get(name, Phase(name))
        lines.append(_array(f"__gt_{name}_commands", phase.commands))
        lines.append(_array(f"__gt_{name}_finally", phase.finally_commands))

    def call(name: str) -> str:
        phase = spec.phases.get(name, Phase(name))
        return f"__gt_phase {phase.phase_type} {phase.on_failure} __gt_{name}_commands __gt_{name}_finally"

    lines += [
        f"if {call('install')}; then",
        f"  if {call('pre_build')}; then",
        f"    {call('build')}",
        f"    {call('post_build')}",
        "  fi",
        "fi",
        "exit 0",
    ]
    return "\n".join(lines) + "\n"


def failed_command(spec: Buildspec, list_name: str, index: int) -> str:
    """The command a ``END ... FAILED`` line points at."""
    parts = list_name.split("_")  # __gt_<phase>_<commands|finally>
    kind = parts[-1]
    phase_name = "_".join(parts[3:-1])
    phase = spec.phases.get(phase_name)
    if phase is None:
        return ""
    commands = phase.commands if kind == "commands" else phase.finally_commands
    return commands[index] if 0 <= index < len(commands) else ""
