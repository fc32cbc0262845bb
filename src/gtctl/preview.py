"""``gtctl preview``: the worker task page of an instructions repository, as one offline HTML file.

It does what the pipeline and Ground Truth do, without AWS:

1. the publisher's placeholders are filled (``gtcontract.task_template.fill``) with the project's
   title and categories, its instructions (``instructions.md``) and example images, the images as
   ``data:`` URIs (the published template names their public or ``grant_read_access`` URLs);
2. the template is rendered with Ground Truth's Liquid dialect (``render_task``), ``task.input``
   being a sample image (``--image``, default the first example) and the categories;
3. the crowd elements' script (``https://assets.crowd.aws/crowd-html-elements.js``) is replaced by
   offline stand-ins (``crowd_elements.js``) that show the header, the image, the categories and the
   instructions in the page's own DOM; nothing is loaded from the network.

The instructions page itself (what the template's "open the instructions" link shows) follows the
task, at ``#gt-preview-instructions``. The project config is checked first with the contract's
validator; a problem is one line (``GtctlError``).
"""

from __future__ import annotations

import base64
import html
import json
import mimetypes
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from gtcontract import task_template
from gtcontract.project_config import validate_project_config
from gtctl.errors import GtctlError

INSTRUCTIONS_ANCHOR = "gt-preview-instructions"
_CROWD_SCRIPT = re.compile(
    r"<script[^>]*src=[\"']" + re.escape(task_template.CROWD_ELEMENTS_SCRIPT) + r"[\"'][^>]*>\s*</script>",
    re.IGNORECASE,
)
_STYLE = """
body { font-family: system-ui, sans-serif; margin: 0; background: #f2f3f3; color: #16191f; }
.gt-preview-banner { background: #232f3e; color: #fff; padding: 8px 16px; font-size: 14px; }
main.gt-preview-task-page { padding: 16px; }
.crowd-preview-task { background: #fff; border: 1px solid #d5dbdb; padding: 16px; margin-bottom: 16px; }
.crowd-preview-element { color: #687078; font: 12px monospace; }
.crowd-preview-layout { display: flex; gap: 24px; align-items: flex-start; }
.crowd-preview-main { flex: 2; }
.crowd-preview-side { flex: 1; }
.crowd-preview-image { width: 100%; max-width: 640px; max-height: 480px; object-fit: contain;
  border: 1px solid #aab7b8; background: #fafafa; }
.crowd-preview-categories { border: 1px solid #aab7b8; margin-bottom: 12px; }
.crowd-preview-category { display: block; padding: 2px 0; }
.crowd-preview-instructions { border-top: 1px solid #eaeded; margin-top: 8px; }
.crowd-preview-submit { margin-top: 8px; padding: 6px 16px; }
figure { display: inline-block; margin: 8px; }
#gt-preview-instructions { background: #fff; border: 1px solid #d5dbdb; margin: 16px; padding: 16px; }
"""


@dataclass
class Preview:
    html: str
    title: str
    categories: list[str]
    examples: list[str]
    warnings: list[str] = field(default_factory=list)


def data_uri(path: Path) -> str:
    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{kind};base64,{base64.b64encode(path.read_bytes()).decode()}"


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise GtctlError(f"{path}: not found; the instructions repository needs {what}") from None
    except OSError as exc:
        raise GtctlError(f"{path}: cannot read it ({exc.strerror})") from None


def _project(source: Path) -> dict[str, Any]:
    path = source / "project.json"
    try:
        project = json.loads(_read(path, "a project.json"))
    except json.JSONDecodeError as exc:
        raise GtctlError(
            f"{path}: invalid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None
    problems = validate_project_config(project)
    if problems:
        raise GtctlError(f"{path}: " + "; ".join(str(p) for p in problems))
    assert isinstance(project, dict)
    return project


def crowd_stand_ins() -> str:
    return resources.files("gtctl").joinpath("crowd_elements.js").read_text(encoding="utf-8")


def build(source: Path, image: Path | None = None) -> Preview:
    """The preview page of the instructions repository at ``source``."""
    if not source.is_dir():
        raise GtctlError(f"{source}: not a directory; pass the instructions repository (e.g. instructions/)")
    project = _project(source)
    title = str(project["task"]["title"])
    categories = [str(c) for c in project["categories"]]
    examples: list[task_template.Example] = []
    example_files: list[str] = []
    for index, example in enumerate(project.get("examples") or []):
        path = source / example["file"]
        if not path.is_file():
            raise GtctlError(
                f"{source / 'project.json'}: examples[{index}].file {example['file']!r} is not a file"
            )
        examples.append(
            task_template.Example(
                data_uri(path),
                str(example.get("label") or ""),
                str(example.get("caption") or example.get("label") or ""),
            )
        )
        example_files.append(example["file"])
    sample = image if image is not None else (source / example_files[0] if example_files else None)
    if sample is None:
        raise GtctlError("no sample image: pass --image FILE (the project lists no examples)")
    if not sample.is_file():
        raise GtctlError(f"{sample}: not found; pass --image FILE of an image to show as the task")
    instructions = task_template.markdown_to_html(_read(source / "instructions.md", "an instructions.md"))
    figures = task_template.examples_html(examples)
    template_path = task_template.repository_template(source, str(project["task_type"]))
    template = _read(
        template_path,
        f"a {task_template.OVERRIDE_TEMPLATE} or "
        f"{task_template.STARTER_TEMPLATES}/{project['task_type']}.liquid.html",
    )
    warnings: list[str] = []

    def grant_read_access(uri: str) -> str:
        if uri.startswith("s3://"):
            warnings.append(f"{uri} cannot be shown offline (grant_read_access needs AWS)")
        return uri

    try:
        filled = task_template.fill(
            template,
            task_template.placeholder_values(
                project,
                instructions_url=f"#{INSTRUCTIONS_ANCHOR}",
                instructions_html=instructions,
                examples_html=figures,
            ),
            source=str(template_path),
        )
        rendered = task_template.render_task(
            filled,
            task_template.sample_task_input(data_uri(sample), categories),
            grant_read_access=grant_read_access,
            source=str(template_path),
        )
    except task_template.TemplateError as exc:
        raise GtctlError(str(exc)) from None
    # The pipeline refuses a template without the task type's crowd element: so does the preview.
    for problem in task_template.crowd_element_problems(rendered, str(project["task_type"]), categories):
        raise GtctlError(f"{template_path}: {problem}")
    rendered = _CROWD_SCRIPT.sub("", rendered)
    page = (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>Preview: {html.escape(title)}</title><style>{_STYLE}</style></head>\n<body>\n"
        '<div class="gt-preview-banner">Task preview (gtctl preview): offline stand-ins for the crowd '
        f"elements; sample image {html.escape(sample.name)}</div>\n"
        f'<main class="gt-preview-task-page">\n{rendered}\n</main>\n'
        f'<section id="{INSTRUCTIONS_ANCHOR}"><h2>Instructions page</h2>\n'
        f"{instructions}\n{figures}\n</section>\n"
        f"<script>\n{crowd_stand_ins()}\n</script>\n</body></html>\n"
    )
    return Preview(page, title, categories, example_files, warnings)
