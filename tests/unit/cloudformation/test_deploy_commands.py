"""The documented deploy commands fit CloudFormation's template size limits.

Regression (issue 9): labeling.yaml outgrew the 51,200 bytes CloudFormation accepts inline
(``TemplateBody``) while the README still deployed it inline, which fails on AWS. Here every
``aws cloudformation`` command of the READMEs is parsed and each template's size is checked
against the way that command sends it: inline (no ``--s3-bucket``, or ``--template-body``)
up to 51,200 bytes; through S3 (``deploy --s3-bucket``, ``--template-url``) up to 1 MB.
"""

from __future__ import annotations

import itertools
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
DOCUMENTS = [ROOT / "cloudformation" / "README.md", ROOT / "README.md"]
INLINE_MAX_BYTES = 51_200  # CreateStack/UpdateStack TemplateBody
S3_MAX_BYTES = 1_000_000  # TemplateURL "max size: 1 MB", the stricter reading (as gtlocal.shims)


@dataclass(frozen=True)
class Command:
    source: str
    template: Path
    via_s3: bool


def shell_commands(markdown: str) -> list[str]:
    """Every command of the ```sh / ```bash blocks, continuation lines joined."""
    commands: list[str] = []
    for block in re.findall(r"```(?:sh|bash|shell)\n(.*?)```", markdown, re.S):
        for command in re.sub(r"\s*\\\n\s*", " ", block).splitlines():
            command = command.split(" #", 1)[0].strip()
            if command:
                commands.append(command)
    return commands


def cloudformation_commands(path: Path) -> list[Command]:
    found = []
    for command in shell_commands(path.read_text(encoding="utf-8")):
        words = shlex.split(command)
        if words[:2] != ["aws", "cloudformation"] or words[2] not in (
            "deploy",
            "create-stack",
            "update-stack",
        ):
            continue
        options = dict(itertools.pairwise(words[3:]))
        if "--template-file" in options:
            template, via_s3 = options["--template-file"], "--s3-bucket" in words
        elif "--template-body" in options:
            template, via_s3 = options["--template-body"].removeprefix("file://"), False
        else:
            raise AssertionError(f"{path.name}: no local template in: {command}")
        found.append(Command(f"{path.relative_to(ROOT)}: {' '.join(words[:3])}", ROOT / template, via_s3))
    return found


COMMANDS = [c for doc in DOCUMENTS for c in cloudformation_commands(doc)]


def test_every_template_has_a_documented_deploy_command() -> None:
    documented = {c.template.name for c in COMMANDS}
    assert documented == {p.name for p in (ROOT / "cloudformation").glob("*.yaml")}


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.template.name)
def test_each_template_fits_the_limit_of_the_command_that_deploys_it(command: Command) -> None:
    size = command.template.stat().st_size
    limit = S3_MAX_BYTES if command.via_s3 else INLINE_MAX_BYTES
    how = "through S3 (--s3-bucket)" if command.via_s3 else "inline (TemplateBody)"
    assert size <= limit, (
        f"{command.source}: {command.template.name} is {size} bytes, sent {how} (max {limit})"
    )


def test_the_parser_sees_the_s3_upload() -> None:
    # The labeling stack is the one over the inline limit, and its command uploads it.
    (labeling,) = [c for c in COMMANDS if c.template.name == "labeling.yaml"]
    assert labeling.template.stat().st_size > INLINE_MAX_BYTES
    assert labeling.via_s3
    inline = shell_commands(
        "```sh\naws cloudformation deploy --stack-name x \\\n  --template-file a.yaml\n```"
    )
    assert inline == ["aws cloudformation deploy --stack-name x --template-file a.yaml"]
