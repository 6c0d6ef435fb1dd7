# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""List, add, update and remove etcd members with ``etcdctl`` (v3 API).

Pure Python (standard library only) so that it can be unit-tested without Ansible or etcd.
The module ``corral.cluster.etcd_member`` gives :func:`converge` a runner (``argv -> (rc, stdout,
stderr)``, run without a shell and with :data:`ENVIRONMENT` in the environment) and turns the
exceptions into ``fail_json``.

Member IDs are uint64. ``etcdctl -w json`` prints them as decimal numbers; ``etcdctl member remove``
and ``member update`` take them in hex, as ``etcdctl member list`` (simple) shows them.
"""

import json
import os
import re
import socket
from typing import Any, Callable, Dict, FrozenSet, Iterable, List, Mapping, NamedTuple, Optional, Sequence, Tuple
from urllib.parse import urlsplit

ENVIRONMENT = {"ETCDCTL_API": "3"}
STATES = ("list", "present", "absent")
UINT64_MAX = 2**64 - 1

Runner = Callable[[list], tuple]  # argv -> (rc, stdout, stderr)

_HEX_RE = re.compile(r"[0-9a-fA-F]+")

TLS_HINT = (
    "TLS failed: check that ca_cert is the etcd CA that signed the members' server certificates, that cert and "
    "key are a client certificate (and its key) signed by that CA, and that the endpoints' addresses are among "
    "the server certificates' SANs."
)
UNREACHABLE = ("connection refused", "deadline exceeded", "transientfailure", "no such host", "i/o timeout")
UNREACHABLE_HINT = (
    "Could not reach etcd in time: is etcd running on the endpoints (systemctl status etcd) and listening on "
    "those addresses and ports? etcdctl 3.4 also reports a TLS failure (wrong CA or client certificate) only "
    "as a timeout."
)
PROBE_TIMEOUT = 3.0  # seconds for the TCP connection test of an endpoint after a timeout

# Substrings of etcdctl's stderr and what to tell the user about them, first match wins.
HINTS = (
    (
        ("x509:", "certificate signed by unknown authority", "bad certificate", "tls:", "handshake failed"),
        TLS_HINT,
    ),
    (UNREACHABLE, UNREACHABLE_HINT),
    (
        ("peer urls already exists", "member id already exist"),
        "Another member already has these peer URLs: list the members (state=list) and remove the stale one "
        "(state=absent with its peer_urls) before adding this member again.",
    ),
    (
        ("unhealthy cluster", "not enough started members"),
        "etcd refuses membership changes while a member is down, was started less than about 5 seconds ago, or "
        "was added and never started: start (or remove) that member, or retry in a few seconds.",
    ),
    (
        ("too many learner members",),
        "The cluster already has the most learners it allows: promote (etcdctl member promote) or remove one first.",
    ),
    (
        ("unknown flag: --learner",),
        "This etcdctl cannot add learners: learner needs etcdctl and etcd 3.4 or later.",
    ),
    (
        ("member not found",),
        "The member is no longer in the cluster (removed meanwhile?): list the members and retry.",
    ),
    (
        ("permission denied",),
        "Permission denied: the certificate and key files must be readable by the user running the module "
        "(become: true).",
    ),
)


class EtcdError(Exception):
    """A problem found before or after running etcdctl, e.g. output that is not what etcdctl prints."""


class Refused(EtcdError):
    """The requested change is refused: the message says why and what to do."""


class EtcdctlFailed(EtcdError):
    """etcdctl exited non-zero."""

    def __init__(self, cmd: Sequence[str], rc: int, stdout: str, stderr: str, hint: Optional[str] = None) -> None:
        self.cmd = list(cmd)
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        self.hint = hint or error_hint(stderr)
        error = error_line(stderr) or f"exit code {rc}"
        message = f"etcdctl {' '.join(_subcommand(cmd))} failed: {error}. Command: {' '.join(self.cmd)}."
        if self.hint:
            message += f" {self.hint}"
        super().__init__(message)


# --- Members --------------------------------------------------------------------------------


class Member(NamedTuple):
    """One etcd member as ``etcdctl member list -w json`` shows it (immutable)."""

    id: Optional[int]  # None only for a member planned in check mode
    name: str = ""  # empty until the member has started once
    peer_urls: Tuple[str, ...] = ()
    client_urls: Tuple[str, ...] = ()
    is_learner: bool = False

    @property
    def hex_id(self) -> Optional[str]:
        return None if self.id is None else member_id_hex(self.id)

    @property
    def started(self) -> bool:
        # etcdctl's own test: a member that never started has not published its name yet.
        return bool(self.name)

    def has_peer_urls(self, urls: Iterable[str]) -> bool:
        return url_set(self.peer_urls) == url_set(urls)

    def as_dict(self) -> Dict[str, Any]:
        return {
            "id": self.hex_id,
            "name": self.name,
            "peer_urls": list(self.peer_urls),
            "client_urls": list(self.client_urls),
            "is_learner": self.is_learner,
            "started": self.started,
        }


def parse_member_id(value: Any) -> int:
    """A member ID from etcdctl's JSON: a decimal number (or a decimal string, as grpc-gateway writes uint64)."""
    if isinstance(value, bool):
        raise EtcdError(f"Member ID {value!r} is not a number.")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.isdigit():
        number = int(value)
    else:
        raise EtcdError(f"Member ID {value!r} is not a decimal number.")
    if not 0 < number <= UINT64_MAX:
        raise EtcdError(f"Member ID {number} is not a non-zero uint64.")
    return number


def member_id_hex(member_id: int) -> str:
    """The hex form etcdctl prints and ``member remove``/``member update`` take (``%x``, no padding)."""
    return format(member_id, "x")


def member_id_from_hex(text: str) -> int:
    if not _HEX_RE.fullmatch(text or ""):
        raise EtcdError(f"Member ID {text!r} is not hexadecimal.")
    return parse_member_id(int(text, 16))


def member_from_json(data: Mapping[str, Any]) -> Member:
    """A member from etcdctl's JSON, where empty fields are simply left out (omitempty)."""
    if not isinstance(data, Mapping) or "ID" not in data:
        raise EtcdError(f"A member in etcdctl's output has no ID: {data!r}.")
    return Member(
        id=parse_member_id(data["ID"]),
        name=data.get("name") or "",
        peer_urls=tuple(data.get("peerURLs") or ()),
        client_urls=tuple(data.get("clientURLs") or ()),
        is_learner=bool(data.get("isLearner", False)),
    )


def load_response(stdout: str) -> Dict[str, Any]:
    try:
        data = json.loads(stdout)
    except ValueError as exc:
        raise EtcdError(f"etcdctl did not print JSON ({exc}): {stdout[:200]!r}") from None
    if not isinstance(data, dict):
        raise EtcdError(f"etcdctl printed JSON that is not an object: {stdout[:200]!r}")
    return data


def parse_members(stdout: str) -> List[Member]:
    """The members of a ``member list|add|update|remove -w json`` response."""
    return [member_from_json(item) for item in load_response(stdout).get("members") or ()]


def parse_added(stdout: str) -> Tuple[Member, List[Member]]:
    """The new member and all members (the new one included) of a ``member add -w json`` response."""
    data = load_response(stdout)
    if not isinstance(data.get("member"), Mapping):
        raise EtcdError(f"etcdctl member add printed no member: {stdout[:200]!r}")
    return member_from_json(data["member"]), [member_from_json(item) for item in data.get("members") or ()]


def initial_cluster(members: Iterable[Member], new_member: Member, name: str) -> str:
    """ETCD_INITIAL_CLUSTER for the member ``new_member`` named ``name``, built as ``etcdctl member add`` does.

    Every member contributes name=url for each peer URL; the new member is given ``name`` (it has none yet).
    """
    pairs = []
    for member in members:
        member_name = name if _same(member, new_member) else member.name
        pairs.extend(f"{member_name}={url}" for url in member.peer_urls)
    return ",".join(pairs)


def _same(member: Member, other: Member) -> bool:
    if other.id is not None:
        return member.id == other.id
    return member.id is None and member.has_peer_urls(other.peer_urls)


# --- URLs -----------------------------------------------------------------------------------


def normalize_url(url: str) -> str:
    return url.strip().rstrip("/")


def url_set(urls: Iterable[str]) -> FrozenSet[str]:
    return frozenset(normalize_url(url) for url in urls)


def url_problems(option: str, urls: Sequence[str]) -> List[str]:
    """Why the URLs of an option are unusable: each must be scheme://host:port with http or https."""
    problems = []
    for url in urls:
        parts = urlsplit(url.strip())
        try:
            port = parts.port
        except ValueError:
            port = None
        if parts.scheme not in ("http", "https") or not parts.hostname or port is None:
            problems.append(f"{option}: {url!r} is not a URL like https://10.0.0.11:2379 (scheme, address and port).")
        elif parts.path not in ("", "/") or parts.query or parts.fragment:
            problems.append(f"{option}: {url!r} must have no path, query or fragment.")
    return problems


# --- Commands -------------------------------------------------------------------------------


class Etcdctl(NamedTuple):
    """How to run etcdctl against the cluster; builds the argument vectors (no shell, no secrets)."""

    path: str
    endpoints: Tuple[str, ...]
    ca_cert: str
    cert: str
    key: str

    def base(self) -> List[str]:
        return [
            self.path,
            f"--endpoints={','.join(self.endpoints)}",
            f"--cacert={self.ca_cert}",
            f"--cert={self.cert}",
            f"--key={self.key}",
            "--write-out=json",
        ]

    def list_command(self) -> List[str]:
        return self.base() + ["member", "list"]

    def add_command(self, name: str, peer_urls: Sequence[str], learner: bool = False) -> List[str]:
        command = self.base() + ["member", "add", name, f"--peer-urls={','.join(peer_urls)}"]
        if learner:
            command.append("--learner")
        return command

    def update_command(self, member_id: int, peer_urls: Sequence[str]) -> List[str]:
        return self.base() + ["member", "update", member_id_hex(member_id), f"--peer-urls={','.join(peer_urls)}"]

    def remove_command(self, member_id: int) -> List[str]:
        return self.base() + ["member", "remove", member_id_hex(member_id)]


def _subcommand(cmd: Sequence[str]) -> List[str]:
    """``member list`` etc.: the words of a command after the options."""
    words = [word for word in cmd[1:] if not word.startswith("-")]
    return words[:2]


def error_line(stderr: str) -> str:
    """etcdctl's own ``Error: ...`` line (the last one), else the last non-empty line of stderr."""
    lines = [line.strip() for line in (stderr or "").splitlines() if line.strip()]
    for line in reversed(lines):
        if line.startswith("Error:"):
            return line[len("Error:"):].strip()
    return lines[-1] if lines else ""


def error_hint(stderr: str) -> Optional[str]:
    text = (stderr or "").lower()
    for needles, hint in HINTS:
        if any(needle in text for needle in needles):
            return hint
    return None


def is_unreachable(stderr: str) -> bool:
    text = (stderr or "").lower()
    return any(needle in text for needle in UNREACHABLE)


def probe_endpoints(endpoints: Iterable[str], connect: Optional[Callable] = None) -> Dict[str, Optional[str]]:
    """For each endpoint, None when it accepts a TCP connection (``connect``, by default a real one), else why not."""
    connect = connect or socket.create_connection
    found = {}
    for url in endpoints:
        parts = urlsplit(url)
        try:
            connection = connect((parts.hostname, parts.port), PROBE_TIMEOUT)
        except (OSError, ValueError) as exc:
            found[url] = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        else:
            connection.close()
            found[url] = None
    return found


def reachability_hint(probe: Mapping[str, Optional[str]]) -> str:
    """The hint for a timeout, knowing which endpoints accept TCP connections."""
    listening = [url for url, error in probe.items() if error is None]
    closed = [f"{url} ({error})" for url, error in probe.items() if error is not None]
    hints = []
    if closed:
        hints.append(
            f"No connection to {', '.join(closed)}: is etcd running there (systemctl status etcd) and listening on "
            "that address and port?"
        )
    if listening:
        hints.append(
            f"{', '.join(listening)} {'accepts' if len(listening) == 1 else 'accept'} connections, so the TLS "
            f"handshake most likely failed there (etcdctl 3.4 reports it as a timeout). {TLS_HINT}"
        )
    return " ".join(hints)


def diagnose(failure: EtcdctlFailed, endpoints: Iterable[str], connect: Optional[Callable] = None) -> EtcdctlFailed:
    """A failure whose hint says, after a timeout, which endpoints are down and which fail TLS."""
    if not is_unreachable(failure.stderr):
        return failure
    hint = reachability_hint(probe_endpoints(endpoints, connect))
    return EtcdctlFailed(failure.cmd, failure.rc, failure.stdout, failure.stderr, hint=hint or None)


def run_etcdctl(runner: Runner, cmd: List[str]) -> str:
    rc, stdout, stderr = runner(cmd)
    if rc != 0:
        raise EtcdctlFailed(cmd, rc, stdout, stderr)
    return stdout


def list_members(ctl: Etcdctl, runner: Runner) -> List[Member]:
    return parse_members(run_etcdctl(runner, ctl.list_command()))


# --- Shared by the modules etcd_member and etcd_member_info ----------------------------------

CONNECTION_ARGS = {
    "endpoints": {"type": "list", "elements": "str", "required": True},
    "ca_cert": {"type": "path", "required": True},
    "cert": {"type": "path", "required": True},
    "key": {"type": "path", "required": True, "no_log": False},
    "etcdctl": {"type": "path", "default": "/usr/local/bin/etcdctl"},
}


def connection_problems(params: Mapping[str, Any]) -> List[str]:
    """What is wrong with the connection options, checked before etcdctl runs; each a sentence with the fix."""
    found = []
    if not params["endpoints"]:
        found.append("endpoints is empty: give the client URL of at least one member, like https://10.0.0.11:2379.")
    found += url_problems("endpoints", params["endpoints"])
    if not os.access(params["etcdctl"], os.X_OK):
        found.append(
            f"etcdctl is not an executable at {params['etcdctl']}: install etcd's etcdctl there (the role "
            "corral.cluster.etcd does) or set the etcdctl option to its path."
        )
    for option in ("ca_cert", "cert", "key"):
        if not os.path.isfile(params[option]):
            found.append(f"{option} {params[option]} is not a file on {os.uname().nodename}.")
    return found


def etcdctl_from_params(params: Mapping[str, Any]) -> Etcdctl:
    return Etcdctl(
        path=params["etcdctl"],
        endpoints=tuple(url.strip() for url in params["endpoints"]),
        ca_cert=params["ca_cert"],
        cert=params["cert"],
        key=params["key"],
    )


# --- Decisions ------------------------------------------------------------------------------


class Plan(NamedTuple):
    """What to do: ``action`` is none, add, update or remove; ``member`` the member concerned (if any)."""

    action: str
    member: Optional[Member] = None
    reason: str = ""


def _describe(member: Member) -> str:
    name = member.name or "(unstarted)"
    return f"{name} (ID {member.hex_id}, peer URLs {', '.join(member.peer_urls) or 'none'})"


def plan_present(members: Sequence[Member], name: str, peer_urls: Sequence[str]) -> Plan:
    """What to do so that a member ``name`` with ``peer_urls`` is in the cluster."""
    wanted = url_set(peer_urls)
    named = [member for member in members if member.name == name]
    if len(named) > 1:
        for member in named:
            if member.has_peer_urls(peer_urls):
                return Plan("none", member, f"member {name} is there with these peer URLs")
        raise Refused(
            f"Several members are named {name}: {'; '.join(_describe(member) for member in named)}. "
            "Remove the stale ones by peer URLs (state=absent with peer_urls) first."
        )
    if named:
        member = named[0]
        if member.has_peer_urls(peer_urls):
            return Plan("none", member, f"member {name} is there with these peer URLs")
        _refuse_taken(members, wanted, member, name)
        return Plan("update", member, f"member {name} has peer URLs {', '.join(member.peer_urls)}")
    for member in members:
        if not member.started and member.has_peer_urls(peer_urls):
            return Plan("none", member, "a member with these peer URLs was added and has not started yet")
    _refuse_taken(members, wanted, None, name)
    return Plan("add", None, f"no member is named {name}")


def _refuse_taken(members: Sequence[Member], wanted: frozenset, keep: Optional[Member], name: str) -> None:
    """Refuse when another member already uses one of the wanted peer URLs (etcd would refuse too)."""
    for member in members:
        if member is keep:
            continue
        shared = sorted(url_set(member.peer_urls) & wanted)
        if shared:
            raise Refused(
                f"Peer URL {', '.join(shared)} for member {name} already belongs to member {_describe(member)}. "
                "If that member is stale (e.g. the host was renamed or rebuilt), remove it first "
                "(state=absent with its name or peer_urls)."
            )


def plan_absent(members: Sequence[Member], name: Optional[str], peer_urls: Optional[Sequence[str]]) -> Plan:
    """What to do so that no member ``name`` (or with ``peer_urls``) is left in the cluster."""
    found = []
    if name:
        found.extend(member for member in members if member.name == name)
    if peer_urls:
        found.extend(member for member in members if member.has_peer_urls(peer_urls) and member not in found)
    if not found:
        wanted = " and ".join(
            part for part in (name and f"named {name}", peer_urls and f"with peer URLs {', '.join(peer_urls)}") if part
        )
        return Plan("none", None, f"no member {wanted}")
    if len(found) > 1:
        raise Refused(
            f"Several members match: {'; '.join(_describe(member) for member in found)}. "
            "Give only the name or only the peer_urls of the one member to remove."
        )
    member = found[0]
    if len(members) == 1:
        raise Refused(
            f"Refusing to remove {_describe(member)}: it is the last member of the cluster, and removing it would "
            "destroy the cluster. Stop etcd and delete its data directory instead if that is really meant."
        )
    return Plan("remove", member, f"member {_describe(member)} is in the cluster")


# --- Converge -------------------------------------------------------------------------------


def converge(
    ctl: Etcdctl,
    runner: Runner,
    state: str,
    name: Optional[str] = None,
    peer_urls: Optional[Sequence[str]] = None,
    learner: bool = False,
    check_mode: bool = False,
    connect: Optional[Callable] = None,
) -> Dict[str, Any]:
    """Bring the membership to ``state``; the module's result (without ``failed``).

    etcdctl failures raise :class:`EtcdctlFailed`; after a timeout, its hint tells apart endpoints that refuse
    connections and endpoints that accept them (so TLS failed), found with ``connect``.
    """
    try:
        return _converge(ctl, runner, state, name, peer_urls, learner, check_mode)
    except EtcdctlFailed as failure:
        raise diagnose(failure, ctl.endpoints, connect) from None


def converge_for_module(module: Any, problems: Sequence[str], state: str, **kwargs: Any) -> Dict[str, Any]:
    """converge() for a module (its params, run_command, fail_json): the arguments' ``problems`` and
    every etcd failure end the run with fail_json, etcdctl's with its command, output and hint."""
    if problems:
        module.fail_json(msg=" ".join(problems))

    def runner(cmd: List[str]) -> Tuple[int, str, str]:
        return module.run_command(cmd, check_rc=False, environ_update=dict(ENVIRONMENT))

    try:
        return converge(etcdctl_from_params(module.params), runner, state, **kwargs)
    except EtcdctlFailed as exc:
        module.fail_json(msg=str(exc), cmd=exc.cmd, rc=exc.rc, stdout=exc.stdout, stderr=exc.stderr, hint=exc.hint)
    except EtcdError as exc:
        module.fail_json(msg=str(exc))
    raise AssertionError("fail_json returned")  # pragma: no cover


def _converge(ctl, runner, state, name, peer_urls, learner, check_mode) -> Dict[str, Any]:
    if state not in STATES:
        raise EtcdError(f"state must be one of {', '.join(STATES)}, not {state!r}.")
    members = list_members(ctl, runner)
    if state == "list":
        return {"changed": False, "action": "none", "members": [member.as_dict() for member in members]}
    if state == "absent":
        return _absent(ctl, runner, members, name, peer_urls, check_mode)
    if not name or not peer_urls:
        raise EtcdError("state=present needs name and peer_urls.")
    return _present(ctl, runner, members, name, list(peer_urls), learner, check_mode)


def _present(ctl, runner, members, name, peer_urls, learner, check_mode) -> Dict[str, Any]:
    plan = plan_present(members, name, peer_urls)
    member = plan.member
    if plan.action == "update":
        if check_mode:
            member = member._replace(peer_urls=tuple(peer_urls))
            members = [member if _same(item, member) else item for item in members]
        else:
            members = parse_members(run_etcdctl(runner, ctl.update_command(member.id, peer_urls)))
            member = next((item for item in members if item.id == plan.member.id), member)
    elif plan.action == "add":
        if check_mode:
            member = Member(id=None, peer_urls=tuple(peer_urls), is_learner=learner)
            members = [*members, member]
        else:
            member, members = parse_added(run_etcdctl(runner, ctl.add_command(name, peer_urls, learner)))
    return {
        "changed": plan.action != "none",
        "action": plan.action,
        "reason": plan.reason,
        "member": member.as_dict(),
        "members": [item.as_dict() for item in members],
        "initial_cluster": initial_cluster(members, member, name),
        "initial_cluster_state": "existing",
    }


def _absent(ctl, runner, members, name, peer_urls, check_mode) -> Dict[str, Any]:
    if not name and not peer_urls:
        raise EtcdError("state=absent needs name or peer_urls.")
    plan = plan_absent(members, name, peer_urls)
    if plan.action == "remove":
        if check_mode:
            members = [item for item in members if item.id != plan.member.id]
        else:
            members = parse_members(run_etcdctl(runner, ctl.remove_command(plan.member.id)))
    return {
        "changed": plan.action != "none",
        "action": plan.action,
        "reason": plan.reason,
        "member": plan.member.as_dict() if plan.member else None,
        "members": [item.as_dict() for item in members],
    }
