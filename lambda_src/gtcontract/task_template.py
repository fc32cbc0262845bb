"""The worker task template: the publisher's placeholders, then Ground Truth's Liquid dialect.

A template of the instructions repository (``template.liquid.html``) is rendered twice:

1. **by the publisher** (``scripts/publish_instructions.py``, on every push): ``[[ name ]]``
   placeholders (``PLACEHOLDERS``) are filled with the project's title, categories, instructions
   and examples (``fill``); the result is what ``UiTemplateS3Uri`` names;
2. **by Ground Truth**, each time it shows a task to a worker: Liquid, with the ``taskInput`` of the
   pre-annotation Lambda as ``task.input`` (for the built-in image task types, ``taskObject`` is the
   image's S3 URI). Ground Truth autoescapes every output and adds filters to standard Liquid
   ("Adding automation with Liquid",
   https://docs.aws.amazon.com/sagemaker/latest/dg/sms-custom-templates-step2-automate.html):
   ``escape`` (explicit, and the default), ``escape_once`` (no double escaping), ``skip_autoescape``
   (content meant as HTML), ``to_json`` (a value as JSON) and ``grant_read_access`` (an S3 URI as an
   HTTPS URL with a short-lived access token). ``render_task`` renders with python-liquid and those
   filters. The page names no ``skip_encoding`` filter; a template using a filter Ground Truth does
   not define fails here as a strict render fails.

The same code renders ``gtctl preview`` (with offline stand-ins for the crowd elements) and the
pipeline's build check, so a template that does not render fails the build before anything is
published. On AWS the service's own check is ``RenderUiTemplate``; this one is python-liquid
(https://github.com/jg-rp/liquid, Shopify-compatible), which can differ from Ground Truth's
renderer in corner cases of the language.

python-liquid is imported only when rendering; the Lambdas never render, and
``scripts/package_lambda.py`` leaves this module out of their package.
"""

from __future__ import annotations

import ast
import html
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from gtcontract.project_config import TASK_TYPES

PLACEHOLDERS = (
    "task_title",
    "task_description",
    "categories_json",
    "instructions_url",
    "instructions_html",
    "examples_html",
    "audit_attribute",
)
_PLACEHOLDER = re.compile(r"\[\[ *([A-Za-z_][A-Za-z0-9_]*) *\]\]")
CROWD_ELEMENTS_SCRIPT = "https://assets.crowd.aws/crowd-html-elements.js"


class TemplateError(ValueError):
    """The template cannot be rendered: one line that names the file, the place and the fix."""


@dataclass(frozen=True)
class Example:
    src: str  # where the worker's browser loads it from: a URL, or a Liquid expression giving one
    label: str
    caption: str


def fill(template: str, values: Mapping[str, str], *, source: str = "template.liquid.html") -> str:
    """Replace every ``[[ name ]]`` with ``values[name]``; an unknown name is a ``TemplateError``."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in PLACEHOLDERS:
            line = template.count("\n", 0, match.start()) + 1
            known = ", ".join(f"[[ {p} ]]" for p in PLACEHOLDERS)
            raise TemplateError(
                f"{source}: line {line}: unknown placeholder {match.group(0)}; write one of {known}"
            )
        return values.get(name, "")

    return _PLACEHOLDER.sub(replace, template)


def placeholder_values(
    project: Mapping[str, Any], *, instructions_url: str, instructions_html: str, examples_html: str
) -> dict[str, str]:
    """What the publisher and ``gtctl preview`` fill the placeholders of a template with."""
    task = project["task"]
    return {
        "task_title": html.escape(str(task["title"])),
        "task_description": html.escape(str(task["description"])),
        "categories_json": html.escape(json.dumps(list(project["categories"]))),
        "instructions_url": instructions_url,
        "instructions_html": instructions_html,
        "examples_html": examples_html,
        # The earlier label a review task type shows (task.input.manifestLine[...]); "" otherwise.
        "audit_attribute": str(project.get("audit_label_attribute_name") or ""),
    }


# --- which template, and what it must hold ------------------------------------------------------

OVERRIDE_TEMPLATE = "template.liquid.html"
STARTER_TEMPLATES = "templates"


def repository_template(source: Path, task_type: str) -> Path:
    """The template of an instructions repository for ``task_type``: its own ``template.liquid.html``
    when it has one, else the starter template of the task type, ``templates/<task_type>.liquid.html``."""
    override = source / OVERRIDE_TEMPLATE
    return override if override.is_file() else source / STARTER_TEMPLATES / f"{task_type}.liquid.html"


class _Elements(HTMLParser):
    """Every element's tag, attributes and the tags of its ancestors."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, dict[str, str], tuple[str, ...]]] = []
        self._open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, {k: v or "" for k, v in attrs}, tuple(self._open)))
        if tag not in _VOID:
            self._open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self._open:
            del self._open[len(self._open) - 1 - self._open[::-1].index(tag) :]


_VOID = frozenset(
    ["area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"]
)


def crowd_element_problems(rendered: str, task_type: str, categories: Iterable[str]) -> list[str]:
    """What a rendered task page lacks for ``task_type``: its Crowd HTML Element inside a
    ``crowd-form``, with ``name``, the image as ``src``, a ``header``, the categories (as JSON, the
    project's, in order: the label is their index) and its ``short-instructions`` and
    ``full-instructions`` (sms-ui-template-crowd-image-classifier.html,
    sms-ui-template-crowd-image-classifier-multi-select.html, sms-ui-template-crowd-bounding-box.html,
    sms-ui-template-crowd-semantic-segmentation.html under docs.aws.amazon.com/sagemaker/latest/dg/)."""
    task = TASK_TYPES[task_type]
    parser = _Elements()
    parser.feed(rendered)
    parser.close()
    element = task.crowd_element
    mine = [(attrs, parents) for tag, attrs, parents in parser.found if tag == element]
    if not mine:
        others = sorted(
            {tag for tag, _, _ in parser.found if tag.startswith("crowd-") and tag != "crowd-form"}
        )
        used = f" (it uses {', '.join(f'<{t}>' for t in others)})" if others else ""
        return [
            f"has no <{element}>{used}, the element of {task_type} tasks; start from "
            f"{STARTER_TEMPLATES}/{task_type}.liquid.html"
        ]
    attrs, parents = mine[0]
    problems = []
    if "crowd-form" not in parents:
        problems.append(f"<{element}> is not inside <crowd-form>; put it in one")
    needed = ("name", "src", "header", task.categories_attribute, *filter(None, [task.review_attribute]))
    for name in needed:
        if not attrs.get(name, "").strip():
            problems.append(f'<{element}> has no {name}="..."; add it')
    wanted = list(categories)
    given = attrs.get(task.categories_attribute, "")
    if given.strip():
        shown = _list_literal(given)
        if shown != wanted:
            problems.append(
                f"<{element}> {task.categories_attribute}={given!r} are not the project's categories "
                f'{json.dumps(wanted)}; write {task.categories_attribute}="[[ categories_json ]]"'
            )
    children = {tag for tag, _, ancestors in parser.found if element in ancestors}
    for child in ("short-instructions", "full-instructions"):
        if child not in children:
            problems.append(f"<{element}> has no <{child}>; add the instructions workers see")
    return problems


def _list_literal(text: str) -> Any:
    """A categories attribute's value: JSON, or the single-quoted list of the AWS examples
    (``categories="['Cat', 'Dog']"``); None when it is neither."""
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None


def examples_html(examples: Iterable[Example], indent: str = "      ") -> str:
    """The example figures the starter template shows in its instructions (``src`` as given: it may
    be a Liquid ``grant_read_access`` expression; it must not contain a double quote)."""
    return "\n".join(
        f'{indent}<figure><img src="{ex.src.replace(chr(34), "%22")}" '
        f'alt="{html.escape(ex.label)}" width="160">'
        f"<figcaption>{html.escape(ex.caption or ex.label)}</figcaption></figure>"
        for ex in examples
    )


# --- Markdown (the instructions page) ---------------------------------------------------------------

_INLINE = [
    (re.compile(r"!\[([^\]]*)\]\(([^)\s]+)\)"), r'<img alt="\1" src="\2">'),
    (re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)"), r'<a href="\2">\1</a>'),
    (re.compile(r"\*\*([^*]+)\*\*"), r"<strong>\1</strong>"),
    (re.compile(r"(?<![*\w])\*([^*]+)\*(?!\w)"), r"<em>\1</em>"),
    (re.compile(r"`([^`]+)`"), r"<code>\1</code>"),
]


def _inline(text: str) -> str:
    out = html.escape(text, quote=False)
    for pattern, repl in _INLINE:
        out = pattern.sub(repl, out)
    return out


def markdown_to_html(markdown: str) -> str:
    """A small Markdown subset: headings, paragraphs, lists, emphasis, code, links, images."""
    out: list[str] = []
    paragraph: list[str] = []
    list_tag: str | None = None

    def flush() -> None:
        nonlocal list_tag
        if paragraph:
            out.append(f"<p>{_inline(' '.join(paragraph))}</p>")
            paragraph.clear()
        if list_tag:
            out.append(f"</{list_tag}>")
            list_tag = None

    for raw in markdown.splitlines():
        line = raw.rstrip()
        heading = re.match(r"^(#{1,6})\s+(.*)$", line)
        item = re.match(r"^\s*([-*]|\d+\.)\s+(.*)$", line)
        if not line.strip():
            flush()
        elif heading:
            flush()
            level = len(heading.group(1))
            out.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
        elif item:
            if paragraph:
                out.append(f"<p>{_inline(' '.join(paragraph))}</p>")
                paragraph.clear()
            tag = "ol" if item.group(1)[0].isdigit() else "ul"
            if list_tag != tag:
                if list_tag:
                    out.append(f"</{list_tag}>")
                out.append(f"<{tag}>")
                list_tag = tag
            out.append(f"<li>{_inline(item.group(2))}</li>")
        else:
            paragraph.append(line.strip())
    flush()
    return "\n".join(out)


# --- Ground Truth's Liquid ---------------------------------------------------------------------------


def sample_task_input(
    task_object: str, categories: Iterable[str], manifest_line: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A ``task.input`` like the built-in image pre-annotation Lambdas give: the image, the labels
    and the data object's line (``manifestLine``, where a review template finds the earlier label:
    sms-ui-template-crowd-bounding-box.html, "initial-value")."""
    line = dict(manifest_line or {"source-ref": task_object})
    return {"taskObject": task_object, "labels": list(categories), "manifestLine": line}


def presigned_stand_in(uri: str) -> str:
    """What ``grant_read_access`` makes of an S3 URI: an HTTPS URL with a (here fake) token."""
    if not uri.startswith("s3://"):
        return uri
    bucket, _, key = uri[5:].partition("/")
    return f"https://{bucket}.s3.amazonaws.com/{key}?X-Amz-Signature=preview"


def render_task(
    template: str,
    task_input: Mapping[str, Any],
    *,
    grant_read_access: Callable[[str], str] = presigned_stand_in,
    source: str = "template.liquid.html",
) -> str:
    """Render like Ground Truth: autoescape on, its filters, strict about unknown filters."""
    try:
        from liquid import Environment
        from liquid.exceptions import LiquidError
        from markupsafe import Markup
    except ImportError as exc:  # pragma: no cover - an environment without python-liquid
        raise TemplateError(
            f"{source}: cannot render: python-liquid is not installed ({exc}); "
            "pip install 'python-liquid>=2,<3'"
        ) from None

    from liquid import Undefined

    def to_json(value: Any) -> str:
        return "null" if isinstance(value, Undefined) else json.dumps(value, default=str)

    env = Environment(autoescape=True)
    env.filters["to_json"] = to_json
    # skip_autoescape: the template author's choice (Ground Truth's filter), as in Ground Truth.
    env.filters["skip_autoescape"] = lambda value: Markup(str(value))  # noqa: S704
    env.filters["grant_read_access"] = lambda value: grant_read_access(str(value))
    try:
        return env.from_string(template).render(task={"input": dict(task_input)})
    except LiquidError as exc:
        token = getattr(exc, "token", None)
        where = ""
        if token is not None and isinstance(getattr(token, "source", None), str):
            where = f"line {token.source.count(chr(10), 0, token.start_index) + 1}: "
        message = " ".join(str(getattr(exc, "message", None) or exc).split())
        raise TemplateError(f"{source}: {where}{message}") from None
