"""`make demo`: the whole story on the local cloud, no AWS account and no Docker needed.

1. start the local cloud (`gtlocal up` on a free port; stopped again at the end);
2. apply `terraform/examples/local` when terraform and the provider mirror are available,
   else say so in one line and create the same resources with `gtlocal.deploy`;
3. publish the starter project config (`scripts/publish_instructions.py` with `instructions/`);
4. generate images with Pillow, a few deliberately broken (zero-byte, corrupt, text, oversized),
   plus one duplicate, and drop them (the `gtctl drop` code path);
5. run the local event-source runner (intake, job events, worker events) until idle;
6. let simulated workers label part of the first job, then advance the emulated clock past
   the 30-day expiry: the job ends with work left and a chained job is created exactly once;
7. the chained job gets the rest (its input manifest keeps every earlier label), workers finish
   it, the clock passes the 10-day idle stop and the chain ends with nothing left to do;
8. print the chain (`gtctl status`), write the report (`gtctl report`) and a summary a person
   can check: dropped / labeled / quarantined (with reasons) / pending / lost = 0.

Exit status: 0 when nothing is lost, 1 when anything is lost, 2 when a step fails.
Run `python scripts/demo.py --help` for the options (image count, port, --no-terraform).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.panel import Panel
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
TERRAFORM_EXAMPLE = ROOT / "terraform" / "examples" / "local"
PREFIX = "demo"
REGION = "us-east-1"
DAY = 86_400

console = Console()


class DemoError(RuntimeError):
    """A step failed; reported in one line, exit status 2."""


# ---- small helpers -----------------------------------------------------------------------------


def say(text: str) -> None:
    console.print(f"[bold cyan]>>[/] {text}")


@contextmanager
def spinner(description: str) -> Iterator[Callable[[str], None]]:
    """A progress line with a spinner and the elapsed time for a step of unknown length."""
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task(description, total=None)

        def update(text: str) -> None:
            progress.update(task, description=f"{description}: {text}")

        yield update
        progress.update(task, total=1, completed=1)


def bar(description: str, total: int) -> Progress:
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )
    progress.add_task(description, total=total)
    return progress


def free_port() -> int:
    from gtlocal.testing import free_port as _free_port

    return _free_port()


def port_in_use(port: int) -> bool:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def run(command: list[str], env: dict[str, str] | None = None, what: str = "") -> str:
    proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        detail = " ".join((proc.stderr or proc.stdout).split())[-400:]
        raise DemoError(f"{what or command[0]} failed (exit {proc.returncode}): {detail}")
    return proc.stdout


# ---- 1. the local cloud ------------------------------------------------------------------------


def cloud_up(port: int) -> None:
    with spinner(f"starting the local cloud on http://127.0.0.1:{port} (gtlocal up)"):
        run([sys.executable, "-m", "gtlocal", "up", "--port", str(port)], what="gtlocal up")


def cloud_down(port: int) -> None:
    subprocess.run(
        [sys.executable, "-m", "gtlocal", "down", "--port", str(port)],
        cwd=ROOT,
        capture_output=True,
        check=False,
    )


@contextmanager
def local_cloud(port: int, keep: bool) -> Iterator[str]:
    """`gtlocal up` on the port; `gtlocal down` (only the process it started) at the end."""
    endpoint = f"http://127.0.0.1:{port}"
    cloud_up(port)
    try:
        yield endpoint
    finally:
        if not keep:
            cloud_down(port)
            say(f"local cloud on port {port} stopped (gtlocal down)")


@contextmanager
def aws_environment(endpoint: str) -> Iterator[None]:
    """Point boto3 at the local cloud (dummy credentials) for the story; restore the env after."""
    from gtlocal.testing import aws_environment as local_env

    saved = dict(os.environ)
    os.environ.update(local_env(endpoint, REGION))
    os.environ.pop("AWS_PROFILE", None)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


# ---- 2. infrastructure -------------------------------------------------------------------------


def terraform_unavailable() -> str | None:
    """None when terraform + the provider mirror are usable, else the one-line reason."""
    proc = subprocess.run(
        [sys.executable, "scripts/terraform_env.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        return " ".join((proc.stderr or proc.stdout).split()) or "terraform environment check failed"
    return None


def deploy_terraform(endpoint: str, workdir: Path, timeout: float) -> dict[str, Any]:
    rc_file = run([sys.executable, "scripts/terraform_env.py"], what="terraform_env").strip().splitlines()[-1]
    tf_dir = workdir / "terraform"
    if tf_dir.exists():
        shutil.rmtree(tf_dir)  # the local cloud is new: old state would describe nothing
    tf_dir.mkdir(parents=True)
    state = tf_dir / "terraform.tfstate"
    env = {
        **os.environ,
        "TF_CLI_CONFIG_FILE": str(Path(rc_file).resolve()),
        "TF_DATA_DIR": str(tf_dir / "data"),
        "TF_IN_AUTOMATION": "1",
    }
    chdir = f"-chdir={TERRAFORM_EXAMPLE}"
    with spinner("terraform init (provider from the filesystem mirror)"):
        run(["terraform", chdir, "init", "-input=false", "-no-color"], env, "terraform init")
    variables = [
        f"-var=endpoint={endpoint}",
        f"-var=project_prefix={PREFIX}",
        f"-var=region={REGION}",
    ]  # the module builds the Lambda package (build/lambda-python3.11-x86_64.zip) during apply
    command = ["terraform", chdir, "apply", "-auto-approve", "-input=false", "-no-color", f"-state={state}"]
    started = time.monotonic()
    with spinner("terraform apply terraform/examples/local") as update:
        proc = subprocess.Popen(
            [*command, *variables],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert proc.stdout is not None
        created, tail = 0, list[str]()
        timer = threading.Timer(timeout, proc.terminate)
        timer.start()
        apply_log = (workdir / "terraform-apply.log").open("w", encoding="utf-8")
        try:
            for line in proc.stdout:
                apply_log.write(line)
                tail = [*tail[-20:], line.rstrip()]
                if "terraform_data.package[0] (local-exec): [" in line:
                    update("building the Lambda package " + line.split("(local-exec):")[1].strip())
                if "Creation complete" in line:
                    created += 1
                    update(f"{created} resources created ({line.split(':')[0].strip()})")
            code = proc.wait()
        finally:
            timer.cancel()
            apply_log.close()
        if time.monotonic() - started >= timeout:
            waiting = [t.split(":")[0] for t in tail if "Still creating" in t or "Creating..." in t]
            raise DemoError(
                f"terraform apply did not finish within {timeout:.0f} s ({created} resources created"
                + (f"; still waiting for {waiting[-1]}" if waiting else "")
                + f"; log: {apply_log.name})"
            )
        if code != 0:
            errors = [t for t in tail if t.strip()]
            raise DemoError("terraform apply failed: " + " | ".join(errors)[-600:])
    say(f"terraform apply: {created} resources in {time.monotonic() - started:.0f} s")
    out = run(
        ["terraform", chdir, "output", f"-state={state}", "-json", "deployment"], env, "terraform output"
    )
    from gtcontract.deployment import Deployment

    try:
        return Deployment.from_document(json.loads(out), "terraform output deployment").document
    except ValueError as exc:  # not JSON, or not the contract's document (DeploymentError)
        raise DemoError(str(exc)) from None


def deploy_sdk(endpoint: str) -> dict[str, Any]:
    from gtlocal import deploy

    with spinner("creating the project's resources with gtlocal.deploy (boto3)"):
        return deploy.deploy_project(PREFIX, region=REGION)


# ---- 3. project config -------------------------------------------------------------------------


def publish_config(deployment: dict[str, Any]) -> str:
    """The starter config from `instructions/` through the publisher CodeBuild runs; where that
    content is not there, the test config of `gtlocal.deploy` (said in one line)."""
    script = ROOT / "scripts" / "publish_instructions.py"
    source = ROOT / "instructions"
    if not script.is_file() or script.stat().st_size == 0 or not any(source.glob("project.*")):
        from gtlocal.deploy import publish_project_config

        say("instructions/ has no project file yet; publishing gtlocal.deploy's test config instead")
        with spinner("publishing the project config (gtlocal.deploy.publish_project_config)"):
            publish_project_config(deployment)
        return str(deployment["project_config_uri"])
    region, account = deployment["region"], deployment.get("account_id", "123456789012")
    env = {
        **os.environ,
        # what the Terraform module gives the CodeBuild project: account-specific values stay out of git
        "GT_DEFAULT_WORKTEAM_ARN": f"arn:aws:sagemaker:{region}:{account}:workteam/private-crowd/local-team",
    }
    sha = subprocess.run(
        ["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout.strip()
    with spinner("publishing the starter project config (scripts/publish_instructions.py)"):
        run(
            [
                sys.executable,
                str(script),
                "--source",
                str(source),
                "--bucket",
                deployment["buckets"]["instructions"],
                "--region",
                region,
                "--git-sha",
                sha or "local",
            ],
            env,
            what="publish_instructions",
        )
    return str(deployment["project_config_uri"])


# ---- 4. images ---------------------------------------------------------------------------------

BROKEN = {
    "broken/empty.jpg": "zero bytes",
    "broken/corrupt.jpg": "JPEG header followed by garbage",
    "broken/readme.txt": "a text file, not an image",
    "broken/huge.png": "10001 x 10001 pixels, more than MAX_IMAGE_PIXELS",
}


def generate_images(folder: Path, count: int, seed: int = 7) -> dict[str, str]:
    """`count` good images, one duplicate of the first, and the broken files of BROKEN."""
    from PIL import Image, ImageDraw

    if folder.exists():
        shutil.rmtree(folder)
    (folder / "broken").mkdir(parents=True)
    (folder / "images").mkdir()
    rng = random.Random(seed)
    kinds: dict[str, str] = {}
    with bar("generating images (Pillow)", count + len(BROKEN) + 1) as progress:
        task = progress.task_ids[0]
        for i in range(count):
            img = Image.new("RGB", (320, 240), tuple(rng.randrange(256) for _ in range(3)))
            draw = ImageDraw.Draw(img)
            for _ in range(6):
                x, y = rng.randrange(280), rng.randrange(200)
                color = tuple(rng.randrange(256) for _ in range(3))
                draw.ellipse((x, y, x + rng.randrange(20, 120), y + rng.randrange(20, 90)), fill=color)
            draw.text((10, 10), f"demo image {i:03d}", fill=(255, 255, 255))
            name = f"images/img-{i:03d}.jpg" if i % 2 == 0 else f"images/img-{i:03d}.png"
            img.save(folder / name)
            kinds[name] = "image"
            progress.advance(task)
        first = folder / "images" / "img-000.jpg"
        shutil.copyfile(first, folder / "images" / "img-000-copy.jpg")
        kinds["images/img-000-copy.jpg"] = "duplicate of img-000.jpg"
        progress.advance(task)
        (folder / "broken" / "empty.jpg").write_bytes(b"")
        good = first.read_bytes()
        (folder / "broken" / "corrupt.jpg").write_bytes(
            good[:200] + bytes(rng.randrange(256) for _ in range(4000))
        )
        (folder / "broken" / "readme.txt").write_text("These are not the images you are looking for.\n")
        Image.new("1", (10_001, 10_001)).save(folder / "broken" / "huge.png")
        for name, what in BROKEN.items():
            kinds[name] = what
            progress.advance(task)
    return kinds


def drop_images(deployment: dict[str, Any], folder: Path) -> int:
    """The `gtctl drop --include-all` code path, with its byte progress bar."""
    from gtctl import drop as drops
    from gtctl.aws import Aws
    from gtctl.deployment import Deployment

    dep = Deployment.from_document(deployment, "deployment")
    aws = Aws(dep.region)
    plan = drops.plan(aws, dep, folder, include_all=True)
    with Progress(
        TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeElapsedColumn(), console=console
    ) as progress:
        task = progress.add_task(f"dropping {len(plan.upload)} files (gtctl drop)", total=plan.upload_bytes)
        drops.upload(aws, dep, plan.upload, lambda n: progress.advance(task, n))
    return len(plan.upload)


# ---- 5-7. the event-source runner, the workforce, the clock -------------------------------------


@dataclass
class Story:
    deployment: dict[str, Any]
    endpoint: str
    lambda_log: Any  # an open text file: the handlers' structured logs and EMF metrics go there

    @property
    def control(self) -> Any:
        from gtlocal.client import GroundTruthControl

        return GroundTruthControl(self.endpoint)

    def run_lambdas(self, what: str, reconcile: bool = False) -> str:
        from gtlocal.runner import run_until_idle

        with (
            spinner(f"event-source runner: {what}") as update,
            contextlib.redirect_stdout(self.lambda_log),
            contextlib.redirect_stderr(self.lambda_log),
        ):
            stats = run_until_idle(self.deployment, reconcile=reconcile, echo=update)
        self.lambda_log.flush()
        return str(stats.summary())

    def project(self) -> dict[str, Any]:
        import boto3

        table = boto3.resource("dynamodb", region_name=REGION).Table(self.deployment["ledger_table"])
        return dict(
            table.get_item(Key={"pk": "PROJECT", "sk": "PROJECT"}, ConsistentRead=True).get("Item") or {}
        )

    def active_job(self) -> str:
        job = self.project().get("active_job")
        if not job:
            raise DemoError(f"no active job (last decision: {self.project().get('last_reason')})")
        return str(job)

    def job_status(self, job: str) -> str:
        return str(self.control.job(job)["status"])

    def wait_in_progress(self, job: str) -> None:
        """Let the emulated clock pass the job's initialisation, then flush what waited."""
        with spinner(f"{job}: Initializing -> InProgress") as update:
            for _ in range(20):
                status = self.job_status(job)
                update(status)
                if status == "InProgress":
                    break
                self.control.advance_clock(float(self.control.settings()["initializing_seconds"]) + 1)
            else:
                raise DemoError(f"{job} did not reach InProgress (it is {status})")
        self.run_lambdas(f"{job} is InProgress: send the objects that waited")

    def available(self, job: str) -> int:
        return sum(1 for o in self.control.job(job).get("objects", []) if o.get("state") == "available")

    def label(self, job: str, count: int, decline: int = 0) -> dict[str, int]:
        with bar(f"simulated workers labeling in {job}", count + decline) as progress:
            task = progress.task_ids[0]
            done = {"labeled": 0, "declined": 0}
            for _ in range(count):
                done["labeled"] += int(self.control.workforce(job, label=1)["labeled"])
                progress.advance(task)
            for _ in range(decline):
                done["declined"] += int(self.control.workforce(job, decline=1)["declined"])
                progress.advance(task)
        self.run_lambdas("worker task events")
        return done


# ---- 8. status, report, summary ----------------------------------------------------------------


def show_status(deployment: dict[str, Any], control: Any) -> None:
    """`gtctl status`, its countdowns read on the emulated clock (``control``: the local cloud's
    control API), which the story moves past the expiry and the idle stop."""
    from gtctl import status as statuses
    from gtctl.aws import Aws
    from gtctl.deployment import Deployment

    def emulated_now() -> datetime:
        return datetime.fromtimestamp(control.now(), UTC)

    dep = Deployment.from_document(deployment, "deployment")
    statuses.render(statuses.collect(Aws(dep.region), dep, now=emulated_now), console)


def write_report(deployment: dict[str, Any], workdir: Path, control: Any) -> tuple[Path, Path]:
    """`gtctl report` on the labeling clock, "now" read on the emulated one (``control``)."""
    from gtctl import report as reports
    from gtctl.aws import Aws
    from gtctl.deployment import Deployment

    dep = Deployment.from_document(deployment, "deployment")
    now = datetime.fromtimestamp(control.now(), UTC)
    with spinner("writing the report (gtctl report)"):
        png, csv_path, _ = reports.generate(Aws(dep.region), dep, workdir / "report", now)
    return png, csv_path


def summarize(deployment: dict[str, Any], kinds: dict[str, str], workdir: Path) -> dict[str, Any]:
    from gtctl import audit as audits
    from gtctl.aws import Aws
    from gtctl.deployment import Deployment

    dep = Deployment.from_document(deployment, "deployment")
    result = audits.run(Aws(dep.region), dep)
    table = Table(title="every dropped file, accounted for", title_justify="left")
    table.add_column("outcome")
    table.add_column("files", justify="right")
    table.add_column("details")
    table.add_row("dropped", str(result.dropped), f"{result.objects} distinct objects in the ledger")
    table.add_row("[green]labeled[/]", str(result.labeled), "")
    for key, reason in sorted(result.quarantined_keys.items()):
        table.add_row("[yellow]quarantined[/]", "1", f"{key}: {reason}")
    table.add_row("[red]failed[/]", str(result.failed), "gave up after the per-object failure limit")
    table.add_row("[cyan]pending[/]", str(result.pending), "waiting in an active job")
    lost_style = "red" if result.lost else "green"
    table.add_row(
        f"[bold {lost_style}]lost[/]",
        f"[bold {lost_style}]{result.lost}[/]",
        "; ".join(f"{k}: {v}" for k, v in sorted(result.lost_keys.items())),
    )
    console.print(table)
    summary = {**result.to_json(), "generated": kinds}
    (workdir / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    return summary


# ---- main --------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="demo", description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=24, help="good images to generate (default 24)")
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("GTLOCAL_PORT", "4566")),
        help="local cloud port (default $GTLOCAL_PORT or 4566; a free port if that one is taken)",
    )
    parser.add_argument("--no-terraform", action="store_true", help="deploy with gtlocal.deploy (boto3)")
    parser.add_argument(
        "--terraform-timeout",
        type=float,
        default=150.0,
        help="seconds for terraform apply before falling back to gtlocal.deploy (default 150)",
    )
    parser.add_argument(
        "--workdir", type=Path, default=ROOT / "build" / "demo", help="images, report, summary"
    )
    parser.add_argument(
        "--keep-running", action="store_true", help="leave the local cloud running at the end"
    )
    args = parser.parse_args(argv)
    if args.images < 2:
        parser.error("--images must be at least 2")
    return args


def _terminate(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    global console
    console = Console(file=sys.stdout)  # bound now: the Lambdas' output is redirected to a log later
    args = parse_args(argv)
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if in_main_thread else None  # `finally` runs
    try:
        return _main(args)
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


def _main(args: argparse.Namespace) -> int:
    started = time.monotonic()
    workdir: Path = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    port = args.port
    if port_in_use(port):
        port = free_port()
        say(f"port {args.port} is taken (another local cloud?); using {port} for this demo")
    console.print(
        Panel.fit("Ground Truth streaming labeling: the whole story on the local cloud", style="bold")
    )
    try:
        with local_cloud(port, args.keep_running) as endpoint, aws_environment(endpoint):
            lost = story(args, endpoint, workdir)
    except DemoError as exc:
        console.print(f"[bold red]demo failed:[/] {exc}")
        return kept(args, port, workdir, 2)
    except KeyboardInterrupt:
        console.print("[bold red]demo interrupted[/]")
        return kept(args, port, workdir, 130)
    except Exception as exc:  # a bug or an environment problem: one line here, the traceback in a file
        log = workdir / "demo-error.log"
        log.write_text(traceback.format_exc(), encoding="utf-8")
        console.print(f"[bold red]demo failed:[/] unexpected {type(exc).__name__}: {exc} (traceback: {log})")
        return kept(args, port, workdir, 2)
    kept(args, port, workdir, 0)
    elapsed = time.monotonic() - started
    if lost:
        console.print(f"[bold red]{lost} dropped file(s) lost[/] (demo took {elapsed:.0f} s)")
        return 1
    console.print(f"[bold green]0 lost[/]: every dropped file is accounted for (demo took {elapsed:.0f} s)")
    return 0


def keep_running_lines(port: int, deployment_file: Path) -> list[str]:
    """The lines that use the local cloud the demo left running, from a shell where `gtctl` and
    `gtlocal` are on PATH (README: `source .venv/bin/activate`): the environment (endpoint, fake
    credentials, region: what boto3, gtctl and the AWS CLI read), a look at the project, the stop."""
    from gtlocal.testing import aws_environment as local_env

    variables = local_env(f"http://127.0.0.1:{port}", REGION)
    return [
        "export " + " ".join(f"{key}={value}" for key, value in variables.items()),
        f"gtctl --deployment {shlex.quote(str(deployment_file))} status",
        f"gtlocal down --port {port}",
    ]


def kept(args: argparse.Namespace, port: int, workdir: Path, code: int) -> int:
    """With --keep-running: print, copy-paste ready (never wrapped), how to use the running cloud."""
    if args.keep_running and port_in_use(port):
        say("the local cloud keeps running; to use it from a shell (gtctl, gtlocal, aws):")
        for line in keep_running_lines(port, workdir / "deployment.json"):
            console.print(line, markup=False, highlight=False, soft_wrap=True)
    return code


def story(args: argparse.Namespace, endpoint: str, workdir: Path) -> int:
    # 2. infrastructure
    reason = "--no-terraform given" if args.no_terraform else terraform_unavailable()
    deployment = None
    if reason is None:
        try:
            deployment = deploy_terraform(endpoint, workdir, args.terraform_timeout)
            say(f"deployed with terraform apply of {TERRAFORM_EXAMPLE.relative_to(ROOT)}")
        except DemoError as exc:
            reason = str(exc)
            port = int(endpoint.rsplit(":", 1)[1])
            cloud_down(port)  # a clean local cloud for the other way: no half-applied resources
            cloud_up(port)
    if deployment is None:
        say(f"terraform not used ({reason}); deploying the same resources with gtlocal.deploy (boto3)")
        deployment = deploy_sdk(endpoint)
    (workdir / "deployment.json").write_text(json.dumps(deployment, indent=2))
    say(f"deployment document: {workdir / 'deployment.json'} (gtctl --deployment FILE status)")

    # 3. the project config the Lambdas read when they create a job
    say(f"project config published: {publish_config(deployment)}")

    # 4. images
    kinds = generate_images(workdir / "images", args.images)
    dropped = drop_images(deployment, workdir / "images")
    say(f"dropped {dropped} files ({args.images} images, 1 duplicate, {len(BROKEN)} broken)")

    log_path = workdir / "lambda.log"
    with log_path.open("w", encoding="utf-8") as lambda_log:
        lost = the_rest(args, Story(deployment, endpoint, lambda_log), kinds, workdir)
    say(f"the Lambdas' logs and metrics: {log_path}")
    return lost


def the_rest(args: argparse.Namespace, world: Story, kinds: dict[str, str], workdir: Path) -> int:
    deployment = world.deployment
    # 5. intake: validate, pre-process, ledger; the first job is created
    world.run_lambdas("intake (validate, pre-process, record; first job)")
    first = world.active_job()
    say(f"first job created: {first}")
    world.wait_in_progress(first)

    # 6. workers label part; the clock passes the 30-day expiry; the chain continues
    part = max(1, world.available(first) // 2)
    done = world.label(first, part, decline=1)
    say(f"{first}: workers labeled {done['labeled']} objects and declined {done['declined']}")
    show_status(deployment, world.control)
    expiry = float(world.control.settings()["job_expiry_seconds"])
    with spinner(f"advancing the emulated clock {expiry / DAY:.0f} days, past {first}'s expiry"):
        world.control.advance_clock(expiry + 60)
    say(f"{first} is now {world.job_status(first)}")
    world.run_lambdas(f"{first} ended: merge its output manifest, chain")
    second = world.active_job()
    if second == first:
        raise DemoError(f"no chained job after {first} ended")
    say(f"chained job created: {second} (parent {first})")
    world.wait_in_progress(second)

    # 7. the chained job finishes the rest, then idles out
    rest = world.available(second)
    done = world.label(second, rest)
    say(f"{second}: workers labeled the remaining {done['labeled']} objects")
    idle = float(world.control.settings()["idle_stop_seconds"])
    with spinner(f"advancing the emulated clock {idle / DAY:.0f} days, past {second}'s idle stop"):
        world.control.advance_clock(idle + 60)
    say(f"{second} is now {world.job_status(second)}")
    world.run_lambdas(f"{second} ended: merge, decide", reconcile=True)

    # 8. where things stand
    show_status(deployment, world.control)
    png, csv_path = write_report(deployment, workdir, world.control)
    say(f"report: {png} and {csv_path}")
    summary = summarize(deployment, kinds, workdir)
    return int(summary["lost"])


if __name__ == "__main__":
    sys.exit(main())
