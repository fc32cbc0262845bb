"""CodeCommit repositories over git's smart HTTP, at the clone URL the local cloud reports.

- **Where**: ``http://<host>:<port>/v1/repos/<name>``, the path of CodeCommit's HTTPS clone URL
  (``https://git-codecommit.<region>.amazonaws.com/v1/repos/<name>``) on the local cloud's own
  address. moto's ``cloneUrlHttp`` is patched to it (``install``), so ``GetRepository``, Terraform's
  ``clone_url_http`` and CloudFormation's ``CloneUrlHttp`` give it. The URL carries no region (AWS
  puts it in the host name): a name is looked up in every region of the caller's account, and a
  name that exists in two regions is refused with a message that says so. SSH is not served.
- **Protocol**: dulwich's WSGI smart-HTTP server (``dulwich.web``), the "smart" protocol only
  (CodeCommit does not serve git's dumb HTTP).
- **Storage**: one bare repository per CodeCommit repository *id*, under the local cloud's
  repository directory (a temporary directory of the process: the git data lives as long as moto's
  in-memory metadata; a repository created again after a reset starts empty, as on AWS).
- **Authentication**, as CodeCommit over HTTPS with the AWS CLI credential helper
  (``git config credential.helper '!aws codecommit credential-helper $@'``; outside
  ``*.amazonaws.com`` add ``--ignore-host-check``): HTTP Basic with user name ``<access key
  id>[%<session token>]`` and a SigV4 signature as password (not verified, as nowhere in the local
  cloud). A request without credentials gets ``401`` and a ``WWW-Authenticate`` challenge, so git
  asks its credential helper. The key decides who calls (``gtlocal.iam.principals``): the dummy
  keys are the account's root user, STS keys a role session, IAM keys that user. CodeCommit's
  HTTPS Git credentials (``CreateServiceSpecificCredential``) are not modelled (moto lacks them).
- **Authorization**: ``codecommit:GitPull`` (clone, fetch) and ``codecommit:GitPush`` (push) on the
  repository ARN, decided by ``gtlocal.iam`` for restricted principals (403 with AWS's message).
- **Events**: every ref a push creates, updates or deletes is one ``CodeCommit Repository State
  Change`` event (``referenceCreated`` / ``referenceUpdated`` / ``referenceDeleted``, detail as in
  the CodeCommit User Guide, "Monitoring CodeCommit events in Amazon EventBridge":
  https://docs.aws.amazon.com/codecommit/latest/userguide/monitoring-events.html) put on the
  default bus before the push answers, so a rule of the same account sees it. A new repository's
  default branch is the first branch pushed to it.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import shutil
import tempfile
import threading
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dulwich.repo import Repo
from dulwich.server import Backend, ReceivePackHandler
from dulwich.web import make_wsgi_chain

LOG = logging.getLogger("gtlocal.pipelines.git")

PREFIX = "/v1/repos/"
ZERO = b"0" * 40
EVENT_SOURCE = "aws.codecommit"
EVENT_DETAIL_TYPE = "CodeCommit Repository State Change"
_NAME = re.compile(r"[\w.-]{1,100}")
_SERVICE_PATHS = {"git-upload-pack": "codecommit:GitPull", "git-receive-pack": "codecommit:GitPush"}

StartResponse = Callable[..., Any]


@dataclass(frozen=True)
class RepositoryRef:
    """A CodeCommit repository as moto holds it."""

    account: str
    region: str
    name: str
    repository_id: str
    arn: str


@dataclass(frozen=True)
class RefUpdate:
    ref: str
    old: str  # 40 zeros: created
    new: str  # 40 zeros: deleted

    @property
    def event(self) -> str:
        if self.old == ZERO.decode():
            return "referenceCreated"
        if self.new == ZERO.decode():
            return "referenceDeleted"
        return "referenceUpdated"


def find_repositories(account: str, name: str) -> list[RepositoryRef]:
    """The CodeCommit repositories named ``name`` in every region of ``account`` (moto's metadata)."""
    from moto.codecommit.models import codecommit_backends

    found = []
    by_region: Any = codecommit_backends.get(account) or {}
    for region in list(by_region.keys()):
        backend = by_region[region]
        repo = backend.repositories.get(name)
        if repo is not None:
            meta = repo.repository_metadata
            found.append(RepositoryRef(account, region, name, meta["repositoryId"], meta["Arn"]))
    return found


def find_repository(account: str, region: str, name: str) -> RepositoryRef | None:
    return next((r for r in find_repositories(account, name) if r.region == region), None)


@dataclass
class RepositoryStore:
    """Bare git repositories, one per CodeCommit repository id, under ``root``."""

    root: Path
    _locks: dict[str, threading.Lock] = field(default_factory=dict)
    _guard: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def temporary(cls) -> RepositoryStore:
        return cls(Path(tempfile.mkdtemp(prefix="gtlocal-codecommit-")))

    def path(self, repo: RepositoryRef) -> Path:
        return self.root / repo.account / repo.region / f"{repo.repository_id}.git"

    def lock(self, repo: RepositoryRef) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(repo.repository_id, threading.Lock())

    def open(self, repo: RepositoryRef) -> Repo:
        path = self.path(repo)
        with self.lock(repo):
            if not (path / "HEAD").exists():
                path.mkdir(parents=True, exist_ok=True)
                Repo.init_bare(str(path))
        return Repo(str(path))

    def clear(self) -> None:
        """Forget every repository (after a moto reset)."""
        with self._guard:
            self._locks.clear()
        shutil.rmtree(self.root, ignore_errors=True)
        self.root.mkdir(parents=True, exist_ok=True)


class _OneRepository(Backend):
    """A dulwich backend that serves one already-authorized repository whatever the path."""

    def __init__(self, repo: Repo) -> None:
        self.repo = repo

    def open_repository(self, path: str) -> Any:
        return self.repo


def _recording_handler(updates: list[RefUpdate]) -> type[ReceivePackHandler]:
    class Recording(ReceivePackHandler):
        """Receive-pack that records the ref updates it applied (status ``ok``)."""

        def _apply_pack(self, refs: Any) -> Iterator[tuple[bytes, bytes]]:
            wanted = {ref: (old, new) for old, new, ref in refs}
            for ref, status in super()._apply_pack(refs):
                if ref in wanted and status == b"ok":
                    old, new = wanted[ref]
                    updates.append(RefUpdate(ref.decode(), bytes(old).decode(), bytes(new).decode()))
                yield ref, status

    return Recording


@dataclass(frozen=True)
class Caller:
    """Who pushes or pulls: the principal's ARN and account, and whether IAM restricts it."""

    arn: str
    account: str
    principal: Any | None  # gtlocal.iam.Principal


def _text(status: str, message: str, headers: Iterable[tuple[str, str]] = ()) -> tuple[str, list[Any], bytes]:
    return status, [("Content-Type", "text/plain; charset=utf-8"), *headers], (message + "\n").encode()


class GitHttpApp:
    """The WSGI application under ``/v1/repos/`` (mounted by ``gtlocal.server.LocalCloudApp``)."""

    def __init__(
        self, store: RepositoryStore, on_push: Callable[[RepositoryRef, list[RefUpdate], Caller], None]
    ):
        self.store = store
        self.on_push = on_push

    @staticmethod
    def handles(path: str) -> bool:
        return path.startswith(PREFIX)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        status, headers, body = self._gate(environ)
        if status:
            start_response(status, headers)
            return [body]
        return self._serve(environ, start_response)

    # --- authentication and authorization ---------------------------------------------------------

    def _gate(self, environ: dict[str, Any]) -> tuple[str, list[Any], bytes]:
        path = environ.get("PATH_INFO", "")
        name, _, rest = path[len(PREFIX) :].partition("/")
        name = urllib.parse.unquote(name)
        query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
        service = query.get("service", [""])[0] if rest == "info/refs" else rest
        if not _NAME.fullmatch(name) or service not in _SERVICE_PATHS:
            return _text("404 Not Found", "CodeCommit serves git's smart HTTP protocol only")
        caller = self._caller(environ)
        if isinstance(caller, tuple):
            return caller
        matches = find_repositories(caller.account, name)
        if not matches:
            return _text("404 Not Found", f"repository '{name}' does not exist")
        if len(matches) > 1:
            regions = ", ".join(sorted(r.region for r in matches))
            return _text(
                "400 Bad Request",
                f"repository '{name}' exists in several regions ({regions}); the local cloud's clone "
                "URL names no region, so it serves a repository name once per account",
            )
        repo = matches[0]
        refused = self._authorize(caller, _SERVICE_PATHS[service], repo)
        if refused:
            return _text("403 Forbidden", refused)
        environ["gtlocal.codecommit"] = (repo, caller, service)
        return "", [], b""

    def _caller(self, environ: dict[str, Any]) -> Caller | tuple[str, list[Any], bytes]:
        from gtlocal.iam.enforce import current
        from gtlocal.iam.principals import Signature, TokenError, default_account

        challenge = [("WWW-Authenticate", 'Basic realm="AWS CodeCommit (local cloud)"')]
        header = environ.get("HTTP_AUTHORIZATION", "")
        if not header.lower().startswith("basic "):
            return _text("401 Unauthorized", "credentials required (git credential helper)", challenge)
        try:
            user = base64.b64decode(header[6:].strip()).decode().partition(":")[0]
        except (ValueError, UnicodeDecodeError):
            return _text("401 Unauthorized", "malformed Basic credentials", challenge)
        key, _, token = user.partition("%")
        if not key:
            return _text("401 Unauthorized", "no access key in the user name", challenge)
        enforcer = current()
        if enforcer is None:
            account = default_account()
            return Caller(f"arn:aws:iam::{account}:root", account, None)
        try:
            principal = enforcer.principals.resolve(Signature(key, "", "codecommit", token or None, True))
        except TokenError as err:
            return _text("403 Forbidden", err.message)
        return Caller(principal.caller.arn, principal.caller.account, principal)

    @staticmethod
    def _authorize(caller: Caller, action: str, repo: RepositoryRef) -> str | None:
        from gtlocal.iam import check

        if caller.principal is None:
            return None
        decision = check(caller.principal, action, repo.arn, region=repo.region)
        return None if decision.allowed else decision.message(caller.principal.caller)

    # --- serving ----------------------------------------------------------------------------------

    def _serve(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        repo, caller, service = environ["gtlocal.codecommit"]
        git = self.store.open(repo)
        name_end = len(PREFIX) + len(environ["PATH_INFO"][len(PREFIX) :].partition("/")[0])
        environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + environ["PATH_INFO"][:name_end]
        environ["PATH_INFO"] = environ["PATH_INFO"][name_end:]
        if (
            environ.get("wsgi.input_terminated")
            and environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked"
        ):
            # The WSGI server already removed the chunked framing (werkzeug: DechunkedInput).
            del environ["HTTP_TRANSFER_ENCODING"]
        updates: list[RefUpdate] = []
        handlers = {b"git-receive-pack": _recording_handler(updates)}
        app = make_wsgi_chain(_OneRepository(git), handlers=handlers)  # type: ignore[arg-type]
        pushing = service == "git-receive-pack" and environ.get("REQUEST_METHOD") == "POST"
        if not pushing:
            return list(app(environ, start_response))
        with self.store.lock(repo):
            body = list(app(environ, start_response))
            if updates:
                _adopt_default_branch(git, updates)
        if updates:
            try:
                self.on_push(repo, updates, caller)
            except Exception:  # the push itself succeeded; AWS delivers its events best effort
                LOG.exception("events of the push to %s were not sent", repo.name)
        return body


def _adopt_default_branch(git: Repo, updates: list[RefUpdate]) -> None:
    """A new repository's default branch becomes the first branch pushed to it, as CodeCommit
    makes the first branch of an empty repository its default branch."""
    refs: Any = git.refs
    head = refs.get_symrefs().get(b"HEAD")
    if head is not None and head in refs:
        return
    for update in updates:
        if update.ref.startswith("refs/heads/") and update.event != "referenceDeleted":
            refs.set_symbolic_ref(b"HEAD", update.ref.encode())
            return


def state_change_events(
    repo: RepositoryRef, updates: list[RefUpdate], caller_arn: str
) -> list[dict[str, Any]]:
    """The ``PutEvents`` entries CodeCommit sends for a push (one per ref)."""
    entries = []
    for update in updates:
        kind = "branch" if update.ref.startswith("refs/heads/") else "tag"
        short = update.ref.split("/", 2)[2] if update.ref.count("/") >= 2 else update.ref
        detail: dict[str, Any] = {
            "callerUserArn": caller_arn,
            "event": update.event,
            "repositoryName": repo.name,
            "repositoryId": repo.repository_id,
            "referenceType": kind,
            "referenceName": short,
            "referenceFullName": update.ref,
        }
        if update.event != "referenceDeleted":
            detail["commitId"] = update.new
        if update.event != "referenceCreated":
            detail["oldCommitId"] = update.old
        entries.append(
            {
                "Source": EVENT_SOURCE,
                "DetailType": EVENT_DETAIL_TYPE,
                "Resources": [repo.arn],
                "Detail": json.dumps(detail),
            }
        )
    return entries


def clone_url(endpoint: str, name: str) -> str:
    return f"{endpoint.rstrip('/')}{PREFIX}{name}"
