"""gtctl: where a Ground Truth streaming labeling project stands, for real and local projects.

The project is found from ``--deployment FILE``, ``--terraform-dir DIR`` or ``--prefix P``
(see ``gtctl.deployment``). AWS access uses the standard credential chain and honours
``AWS_ENDPOINT_URL`` (``--endpoint-url``), which is how it talks to the local cloud.
Every failure is one line on stderr and a non-zero exit; ``--debug`` shows tracebacks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from gtctl import deployment as deployments
from gtctl.aws import Aws, discover, set_endpoint
from gtctl.deployment import Deployment
from gtctl.errors import GtctlError


class CliError(click.ClickException):
    """Printed as ``gtctl: error: <one line>``."""

    def format_message(self) -> str:
        return " ".join(self.message.split())

    def show(self, file: Any = None) -> None:
        click.echo(f"gtctl: error: {self.format_message()}", err=True)


@dataclass
class State:
    deployment_file: Path | None = None
    terraform_dir: Path | None = None
    prefix: str | None = None
    region: str | None = None
    debug: bool = False
    _deployment: Deployment | None = field(default=None, repr=False)
    _aws: Aws | None = field(default=None, repr=False)

    def deployment(self) -> Deployment:
        if self._deployment is None:
            if self.deployment_file is not None:
                self._deployment = deployments.load_file(self.deployment_file)
            elif self.terraform_dir is not None:
                self._deployment = deployments.load_terraform(self.terraform_dir)
            elif self.prefix is not None:
                self._deployment = discover(Aws(self.region), self.prefix)
            else:
                raise GtctlError(
                    "no project given: pass --deployment FILE, --terraform-dir DIR or --prefix P "
                    "(or set GTCTL_DEPLOYMENT / GTCTL_TERRAFORM_DIR / GTCTL_PREFIX)"
                )
        return self._deployment

    def aws(self) -> Aws:
        if self._aws is None:
            self._aws = Aws(self.region or self.deployment().region)
        return self._aws


class Cli(click.Group):
    """Turns every error into one line on stderr (tracebacks only with --debug)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except GtctlError as exc:
            if _debug(ctx):
                raise
            raise CliError(str(exc)) from None
        except KeyboardInterrupt:
            raise click.exceptions.Abort() from None
        except Exception as exc:
            if _debug(ctx):
                raise
            raise CliError(f"unexpected {type(exc).__name__}: {exc} (run with --debug for details)") from None


def _debug(ctx: click.Context) -> bool:
    state = ctx.find_object(State)
    return bool(state and state.debug)


pass_state = click.make_pass_decorator(State)


@click.group(cls=Cli, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--deployment",
    "deployment_file",
    type=click.Path(path_type=Path, dir_okay=False),
    envvar="GTCTL_DEPLOYMENT",
    help="Deployment document (JSON from `gtlocal deploy` or `terraform output -json deployment`).",
)
@click.option(
    "--terraform-dir",
    type=click.Path(path_type=Path, file_okay=False),
    envvar="GTCTL_TERRAFORM_DIR",
    help="Terraform root module whose output `deployment` describes the project.",
)
@click.option(
    "--prefix",
    envvar="GTCTL_PREFIX",
    help="Project prefix; the project is discovered from its Lambda functions (PROJECT_PREFIX).",
)
@click.option("--region", help="AWS region (default: the deployment's; for --prefix, the SDK's default).")
@click.option(
    "--endpoint-url",
    envvar="AWS_ENDPOINT_URL",
    help="AWS endpoint for every service, e.g. the local cloud http://127.0.0.1:4566.",
)
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.version_option(package_name="gt-streaming-labeling", prog_name="gtctl")
@click.pass_context
def cli(
    ctx: click.Context,
    deployment_file: Path | None,
    terraform_dir: Path | None,
    prefix: str | None,
    region: str | None,
    endpoint_url: str | None,
    debug: bool,
) -> None:
    """Operate a Ground Truth streaming labeling project: status, drop, chain, report, config, preview."""
    set_endpoint(endpoint_url)
    ctx.obj = State(deployment_file, terraform_dir, prefix, region, debug)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@click.option(
    "--audit",
    is_flag=True,
    help="Also account for every dropped file (lists the drop bucket and reads the whole ledger); "
    "exit 1 if any is lost (files held back by a limit are listed with the reason, not failed).",
)
@click.option(
    "--stage",
    "stage_files",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Deployment document of the next stage of a multi-stage project (repeat, in order): the "
    "stages side by side, and --audit follows every drop through them.",
)
@pass_state
def status(state: State, as_json: bool, audit: bool, stage_files: tuple[Path, ...]) -> None:
    """Show the chain of jobs (status, counters, parent, why it was created), ledger totals, last decision."""
    from gtctl import audit as audits
    from gtctl import status as statuses

    dep = state.deployment()
    if stage_files:
        status_of_stages(state, [dep, *(deployments.load_file(path) for path in stage_files)], as_json, audit)
        return
    result = statuses.collect(state.aws(), dep)
    checked = audits.run(state.aws(), dep) if audit else None
    if as_json:
        doc = result.to_json()
        if checked is not None:
            doc["audit"] = checked.to_json()
        click.echo(json.dumps(doc, indent=2, default=str))
    else:
        console = Console()
        statuses.render(result, console)
        if checked is not None:
            render_audit(checked, console)
    if checked is not None and checked.lost:
        raise CliError(f"{checked.lost} dropped file(s) lost: {', '.join(sorted(checked.lost_keys)[:10])}")


def status_of_stages(state: State, stages: list[Deployment], as_json: bool, audit: bool) -> None:
    """``gtctl status --stage ...``: every stage's status and verdicts, and the audit across them."""
    from gtctl import stages as staging
    from gtctl import status as statuses

    collected = staging.collect_stages(state.aws(), stages)
    checked = staging.audit_stages(state.aws(), stages) if audit else None
    if as_json:
        doc: dict[str, Any] = {"stages": [stage.to_json() for stage in collected]}
        if checked is not None:
            doc["audit"] = checked.to_json()
        click.echo(json.dumps(doc, indent=2, default=str))
    else:
        console = Console()
        for index, stage in enumerate(collected, 1):
            console.rule(f"stage {index}: {stage.status.project_prefix}")
            statuses.render(stage.status, console)
            console.print(
                f"review: [green]accepted[/] {stage.verdicts.get('accepted', 0)}  "
                f"[red]rejected[/] {stage.verdicts.get('rejected', 0)}"
            )
        if checked is not None:
            console.rule("audit across the stages")
            console.print(
                f"[bold]dropped[/] {checked.dropped}  [green]accepted[/] {checked.accepted}  "
                f"[yellow]quarantined[/] {checked.quarantined}  "
                f"[magenta]held back by a limit[/] {checked.held_back}  "
                f"[cyan]in progress[/] {checked.in_progress}  [bold]lost[/] {checked.lost}"
            )
            render_reasons(console, {"held back": checked.held_back_reasons}, checked.lost_keys)
    if checked is not None and checked.lost:
        raise CliError(f"{checked.lost} dropped file(s) lost: {', '.join(sorted(checked.lost_keys)[:10])}")


def render_audit(result: Any, console: Console) -> None:
    console.print(
        f"[bold]dropped[/] {result.dropped}  [green]labeled[/] {result.labeled}  "
        f"[yellow]quarantined[/] {result.quarantined}  [cyan]pending[/] {result.pending}  "
        f"[magenta]held back by a limit[/] {result.held_back} (failed {result.failed})  "
        f"[bold]lost[/] {result.lost}"
    )
    render_reasons(
        console,
        {"quarantined": result.quarantine_reasons, "held back": result.held_back_reasons},
        result.lost_keys,
    )


def render_reasons(console: Console, counted: dict[str, dict[str, int]], lost_keys: dict[str, str]) -> None:
    """An audit's reasons: ``counted`` (outcome -> reason -> count) in that order, then each lost key."""
    for outcome, reasons in counted.items():
        for reason, count in sorted(reasons.items()):
            console.print(f"  {outcome} x{count}: {reason}")
    for key, why in sorted(lost_keys.items()):
        console.print(f"  [red]lost[/] {key}: {why}")


@cli.command()
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--include-all", is_flag=True, help="Drop non-image files too (intake quarantines them).")
@click.option("--key-prefix", default="", help="Prefix for the S3 keys (e.g. 'batch-7/').")
@click.option("--dry-run", is_flag=True, help="Only say what would be uploaded.")
@click.option("--workers", default=8, show_default=True, type=click.IntRange(1, 64), help="Parallel uploads.")
@pass_state
def drop(state: State, folder: Path, include_all: bool, key_prefix: str, dry_run: bool, workers: int) -> None:
    """Upload FOLDER to the drop bucket (recursively), skipping files already there."""
    from gtctl import drop as drops

    dep = state.deployment()
    plan = drops.plan(state.aws(), dep, folder, key_prefix=key_prefix, include_all=include_all)
    if plan.non_images:
        raise CliError(drops.non_image_message(folder, plan.non_images))
    if not plan.upload and not plan.skipped:
        raise CliError(f"no files to drop in {folder}")
    if not dry_run and plan.upload:
        with drop_progress() as progress:
            task = progress.add_task(f"dropping into s3://{dep.drop_bucket}", total=plan.upload_bytes)
            drops.upload(state.aws(), dep, plan.upload, lambda n: progress.advance(task, n), workers=workers)
    verb = "would upload" if dry_run else "uploaded"
    extra = f", ignored {len(plan.hidden)} hidden file(s)" if plan.hidden else ""
    click.echo(f"{verb} {len(plan.upload)} file(s), skipped {len(plan.skipped)} already there{extra}")


def drop_progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    )


@cli.command()
@click.option("--reason", default="forced by gtctl chain", show_default=True, help="Recorded on the new job.")
@click.option(
    "--stop-active",
    is_flag=True,
    help="Stop the running job first (its labels carry over to the new job's input manifest).",
)
@click.option(
    "--wait-timeout",
    default=900.0,
    show_default=True,
    type=click.FloatRange(0),
    help="Seconds to wait for the stopped job to end.",
)
@pass_state
def chain(state: State, reason: str, stop_active: bool, wait_timeout: float) -> None:
    """Create the next job of the chain now: exactly once, through the Lambdas' chaining code.

    Nothing is created while a job is active unless --stop-active; nothing is created when every
    object is labeled, quarantined or failed."""
    from gtctl.chain import force

    console = Console(stderr=True)
    with console.status("deciding (project lock, chain index)...") as spinner:
        outcome = force(
            state.deployment(),
            reason,
            stop_active=stop_active,
            wait_timeout=wait_timeout,
            on_wait=lambda status: spinner.update(f"waiting for the stopped job to end ({status})..."),
        )
    if outcome.stopped:
        click.echo(f"stopped {outcome.stopped}")
    if outcome.action == "active":
        raise CliError(f"not chained: {outcome.reason} (pass --stop-active to stop it and chain now)")
    if not outcome.ok:
        raise CliError(f"not chained ({outcome.action}): {outcome.reason}")
    click.echo(f"{outcome.action}: {outcome.reason}")


@cli.command()
@click.option(
    "--output-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("gtctl-report"),
    show_default=True,
    help="Where the PNG and CSV go.",
)
@click.option(
    "--now",
    "now_text",
    metavar="ISO-TIME",
    default=None,
    help="The labeling clock's time now, e.g. the local cloud's emulated clock "
    "(GET /_groundtruth/clock); default: this machine's clock.",
)
@pass_state
def report(state: State, output_dir: Path, now_text: str | None) -> None:
    """Write a PNG chart and a CSV of labeled / remaining objects over time across the chain,
    on the labeling clock (Ground Truth's time)."""
    from gtctl import report as reports

    now = reports.parse_time(now_text) if now_text else None
    if now_text and now is None:
        raise CliError(f"--now {now_text!r} is not an ISO 8601 time (e.g. 2026-11-28T14:00:00+00:00)")
    png, csv_path, timeline = reports.generate(state.aws(), state.deployment(), output_dir, now)
    click.echo(f"wrote {png} and {csv_path} ({len(timeline.rows)} points, {len(timeline.jobs)} jobs)")


@cli.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["manifest", "coco"]),
    default="manifest",
    show_default=True,
    help="manifest: SageMaker augmented manifest; coco: COCO instances JSON (bounding boxes, segmentation).",
)
@click.option(
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="The file to write [default: dataset.manifest, dataset.coco.json] "
    "(split: <stem>.train<suffix>, <stem>.validation<suffix>).",
)
@click.option(
    "--validation-fraction",
    type=float,
    default=0.0,
    show_default=True,
    help="Put this fraction of the objects (by object id: the same on every export) in a validation file.",
)
@click.option(
    "--objects",
    "selection",
    type=click.Choice(["accepted", "labeled", "all"]),
    default="accepted",
    show_default=True,
    help="accepted: the objects the project's final stage accepted (today: every labeled one); "
    "labeled: also labeled objects it did not accept, with their label; all: also objects without "
    "a label (pending, sent, failed: a line without label attributes, a COCO image without "
    "annotations; quarantined objects never). Outside accepted, export-status says which each is; "
    "a training job needs its label attributes on every line, so train on accepted.",
)
@pass_state
def export(state: State, fmt: str, output: Path | None, validation_fraction: float, selection: str) -> None:
    """Write the labeled dataset: an augmented manifest (source-ref, label, drop-keys) or COCO."""
    from botocore.exceptions import ClientError

    from gtctl import export as exports
    from gtctl.aws import translate_errors
    from gtctl.coco import Unusable
    from gtctl.ledger import LedgerReader
    from gtstream.aws import error_code, split_s3_uri

    aws = state.aws()
    reader = LedgerReader(aws, state.deployment())

    def read_object(uri: str) -> bytes:
        """A segmentation mask (or an unlabeled image); one that cannot be read leaves its object
        out, with the reason."""
        try:
            bucket, key = split_s3_uri(uri)
            body: bytes = aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        except (ValueError, ClientError) as exc:
            raise Unusable(error_code(exc) if isinstance(exc, ClientError) else str(exc)) from None
        return body

    with translate_errors():
        paths, result = exports.export(
            reader.ledger,
            output or exports.default_output(fmt),
            validation_fraction,
            fmt,
            read_object,
            selection,
        )
    for target, path in paths.items():
        extra = f", {result.annotations[target]} annotations" if fmt == "coco" else ""
        if selection == "accepted":
            what = f"{result.written[target]} labeled objects"
        else:
            kinds = ", ".join(f"{result.kinds[target, k]} {k}" for k in exports.SELECTIONS[selection])
            what = f"{result.written[target]} objects: {kinds}"
        click.echo(f"wrote {path} ({what}{extra})")
    for reason, count in sorted(result.skipped.items()):
        click.echo(f"left out {count}: {reason}", err=True)


@cli.group()
def config() -> None:
    """The project config (docs/interfaces.md section 5): check it before you push."""


@config.command("validate")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--published",
    is_flag=True,
    help="Check a published config/project.json (as the Lambdas read it), not a repository's project.json.",
)
@click.pass_context
def config_validate(ctx: click.Context, file: Path, published: bool) -> None:
    """Check FILE with the publisher's and the Lambdas' own validator: one line per problem, exit 1.

    The workteam and task settings that the pipeline supplies (GT_DEFAULT_*) are not filled in here;
    a missing workteam_arn is only reported with --published."""
    from gtcontract.project_config import validate_project_config

    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CliError(f"config file not found: {file}") from None
    except OSError as exc:
        raise CliError(f"cannot read {file}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise CliError(f"{file}: invalid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    problems = validate_project_config(data, published=published)
    for problem in problems:
        click.echo(f"{file}: {problem}", err=True)
    if problems:
        ctx.exit(1)
    click.echo(f"{file}: valid ({'published config' if published else 'project.json'})")


@cli.command()
@click.option(
    "--source",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("instructions"),
    show_default=True,
    help="The instructions repository (project.json, instructions.md, template.liquid.html, examples/).",
)
@click.option(
    "--image",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Image shown as the task (default: the first example of project.json).",
)
@click.option(
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("build/preview/preview.html"),
    show_default=True,
    help="Where to write the HTML file.",
)
def preview(source: Path, image: Path | None, output: Path) -> None:
    """Render the task template as workers see it, into one offline HTML file.

    The template is filled as the pipeline's publisher fills it and rendered with Ground Truth's
    Liquid filters (grant_read_access, to_json, escape_once, skip_autoescape); the crowd elements
    are offline stand-ins showing the header, image, categories and instructions. Open the file in
    a browser; nothing is loaded from the network."""
    from gtctl import preview as previews

    made = previews.build(source, image)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(made.html, encoding="utf-8")
    for warning in made.warnings:
        click.echo(f"gtctl: warning: {warning}", err=True)
    click.echo(
        f"wrote {output}: {made.title!r}, {len(made.categories)} categories, "
        f"{len(made.examples)} example image(s)"
    )


def main(argv: list[str] | None = None) -> None:
    cli.main(args=argv, prog_name="gtctl")


if __name__ == "__main__":  # pragma: no cover
    main()
