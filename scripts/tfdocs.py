"""Generate the inputs/outputs tables of the Terraform module READMEs (terraform-docs is not
installable here). The table sits between ``<!-- BEGIN_TF_DOCS -->`` and ``<!-- END_TF_DOCS -->``.

    python scripts/tfdocs.py            # rewrite every README under terraform/modules and examples
    python scripts/tfdocs.py --check    # exit 1 and name the stale READMEs
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import hcl2

ROOT = Path(__file__).resolve().parent.parent
BEGIN, END = "<!-- BEGIN_TF_DOCS -->", "<!-- END_TF_DOCS -->"


def _name(key: str) -> str:
    return key.strip('"')


def _clean(value: Any) -> Any:
    """hcl2 output back to plain values: unquote keys and strings, unwrap ${...}."""
    if isinstance(value, dict):
        return {_name(k): _clean(v) for k, v in value.items() if not k.startswith("__")}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, str):
        text = value
        if text.startswith("${") and text.endswith("}"):
            text = text[2:-1]
        if len(text) >= 2 and text[0] == text[-1] == '"':
            text = text[1:-1].replace('\\"', '"')
        return text
    return value


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _type_text(value: Any) -> str:
    text = str(_clean(value))
    return re.sub(r"\s+", " ", text)


def load_blocks(module: Path, kind: str) -> list[tuple[str, dict[str, Any]]]:
    blocks: list[tuple[str, dict[str, Any]]] = []
    for path in sorted(module.glob("*.tf")):
        with path.open() as handle:
            parsed = hcl2.load(handle)
        for block in parsed.get(kind, []):
            for name, body in block.items():
                blocks.append((_name(name), body))
    return sorted(blocks)


def render(module: Path) -> str:
    lines = ["## Inputs", "", "| Name | Description | Type | Default | Required |", "|---|---|---|---|:---:|"]
    for name, body in load_blocks(module, "variable"):
        description = _clean(body.get("description", ""))
        kind = _type_text(body.get("type", "any"))
        has_default = "default" in body
        default = json.dumps(_clean(body["default"])) if has_default else "n/a"
        required = "no" if has_default else "yes"
        row = [f"`{name}`", _cell(description), f"`{_cell(kind)}`", f"`{_cell(default)}`", required]
        lines.append("| " + " | ".join(row) + " |")
    lines += ["", "## Outputs", "", "| Name | Description |", "|---|---|"]
    for name, body in load_blocks(module, "output"):
        lines.append(f"| `{name}` | {_cell(_clean(body.get('description', '')))} |")
    return "\n".join(lines)


def updated_readme(readme: Path, module: Path) -> str:
    text = readme.read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{readme}: add {BEGIN} and {END} markers where the table goes")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{render(module)}\n{END}{tail}"


def modules() -> list[Path]:
    base = ROOT / "terraform"
    return sorted(p for p in (*(base / "modules").iterdir(), *(base / "examples").iterdir()) if p.is_dir())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate Terraform README tables.")
    parser.add_argument("--check", action="store_true", help="fail when a README table is stale")
    args = parser.parse_args(argv)
    stale = []
    for module in modules():
        readme = module / "README.md"
        if not readme.exists():
            stale.append(f"{readme} (missing)")
            continue
        new = updated_readme(readme, module)
        if new != readme.read_text():
            if args.check:
                stale.append(str(readme.relative_to(ROOT)))
            else:
                readme.write_text(new)
                print(f"updated {readme.relative_to(ROOT)}")
    if stale:
        print("stale README tables (run `python scripts/tfdocs.py`): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
