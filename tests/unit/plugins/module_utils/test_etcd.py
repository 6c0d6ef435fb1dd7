"""Unit tests of module_utils/etcd.py: etcdctl JSON parsing, IDs, commands, decisions, errors (no etcd needed)."""

from __future__ import annotations

import json

import pytest

from ansible_collections.corral.cluster.plugins.module_utils import etcd

# Recorded from etcdctl 3.4.23 (Debian): a started member and one added but not started yet
# (no name, no client URLs: etcdctl leaves empty fields out).
LIST_34 = (
    '{"header":{"cluster_id":15875391935852295136,"member_id":7383792418829112008,"raft_term":2},'
    '"members":[{"ID":7383792418829112008,"name":"a","peerURLs":["http://127.0.0.1:42380"],'
    '"clientURLs":["http://127.0.0.1:42379"]},{"ID":16282631086353669233,"peerURLs":["http://127.0.0.1:42390"]}]}'
)
# The etcdctl 3.5 shape: the same fields, a learner, a header with a revision.
LIST_35 = json.dumps(
    {
        "header": {"cluster_id": 17237436991929493444, "member_id": 9372538179322589801, "raft_term": 3, "revision": 7},
        "members": [
            {
                "ID": 9372538179322589801,
                "name": "etcd-1",
                "peerURLs": ["https://10.0.0.11:2380"],
                "clientURLs": ["https://10.0.0.11:2379"],
            },
            {
                "ID": 10501334649042878790,
                "name": "etcd-2",
                "peerURLs": ["https://10.0.0.12:2380"],
                "clientURLs": ["https://10.0.0.12:2379"],
                "isLearner": True,
            },
        ],
    }
)
# Recorded from etcdctl 3.4.23: `member add c --learner -w json`.
ADD_34 = (
    '{"header":{"cluster_id":15875391935852295136,"member_id":7383792418829112008,"raft_term":2},'
    '"member":{"ID":10382215354480629424,"peerURLs":["http://127.0.0.1:42391"],"isLearner":true},'
    '"members":[{"ID":7383792418829112008,"name":"a","peerURLs":["http://127.0.0.1:42380"],'
    '"clientURLs":["http://127.0.0.1:42379"]},{"ID":10382215354480629424,"peerURLs":["http://127.0.0.1:42391"],'
    '"isLearner":true}]}'
)
STDERR_UNHEALTHY = (
    '{"level":"warn","ts":"2026-11-22T02:44:43.112Z","caller":"clientv3/retry_interceptor.go:62",'
    '"msg":"retrying of unary invoker failed","target":"endpoint://client-f67e/127.0.0.1:42379","attempt":0,'
    '"error":"rpc error: code = Unavailable desc = etcdserver: unhealthy cluster"}\n'
    "Error: etcdserver: unhealthy cluster\n"
)

CTL = etcd.Etcdctl("/usr/local/bin/etcdctl", ("https://10.0.0.11:2379",), "/pki/ca.crt", "/pki/c.crt", "/pki/c.key")


def member(id_: int, name: str, *peer_urls: str, learner: bool = False) -> etcd.Member:
    return etcd.Member(id=id_, name=name, peer_urls=peer_urls, is_learner=learner)


THREE = [
    member(0x11, "etcd-1", "https://10.0.0.11:2380"),
    member(0x12, "etcd-2", "https://10.0.0.12:2380"),
    member(0x13, "etcd-3", "https://10.0.0.13:2380"),
]


# --- Parsing and IDs ------------------------------------------------------------------------


def test_parse_members_34_with_an_unstarted_member() -> None:
    started, unstarted = etcd.parse_members(LIST_34)
    assert started.as_dict() == {
        "id": "667880157b8812c8",
        "name": "a",
        "peer_urls": ["http://127.0.0.1:42380"],
        "client_urls": ["http://127.0.0.1:42379"],
        "is_learner": False,
        "started": True,
    }
    assert unstarted.hex_id == "e1f786b436d7dc71"
    assert (unstarted.name, unstarted.client_urls, unstarted.started) == ("", (), False)


def test_parse_members_35_with_a_learner() -> None:
    first, second = etcd.parse_members(LIST_35)
    assert first.name == "etcd-1" and not first.is_learner
    assert second.is_learner and second.id == 10501334649042878790 and second.hex_id == "91bc3c398fb3c146"


def test_ids_beyond_int64_stay_exact() -> None:
    # 0xffffffffffffffff cannot be represented exactly by a float: json must keep it as an int.
    [only] = etcd.parse_members('{"members":[{"ID":18446744073709551615,"name":"x","peerURLs":["https://a:2380"]}]}')
    assert only.hex_id == "ffffffffffffffff"


@pytest.mark.parametrize(
    "value, expected",
    [(7383792418829112008, "667880157b8812c8"), ("16282631086353669233", "e1f786b436d7dc71"), (1, "1"), (0xABC, "abc")],
)
def test_decimal_id_to_hex(value, expected) -> None:
    assert etcd.member_id_hex(etcd.parse_member_id(value)) == expected
    assert etcd.member_id_from_hex(expected) == int(value)


@pytest.mark.parametrize("value", [0, -1, 2**64, "e1f7", "", None, True, 1.5])
def test_bad_ids_are_rejected(value) -> None:
    with pytest.raises(etcd.EtcdError):
        etcd.parse_member_id(value)


@pytest.mark.parametrize("stdout", ["", "Error: nope", "[1, 2]", '{"members":[{"name":"x"}]}'])
def test_output_that_is_not_etcdctl_json_is_an_error(stdout) -> None:
    with pytest.raises(etcd.EtcdError):
        etcd.parse_members(stdout)


def test_parse_added_and_initial_cluster_name_the_new_member() -> None:
    new, members = etcd.parse_added(ADD_34)
    assert new.hex_id == "901509db896c96b0" and new.is_learner and not new.started
    assert len(members) == 2
    assert etcd.initial_cluster(members, new, "c") == "a=http://127.0.0.1:42380,c=http://127.0.0.1:42391"


def test_initial_cluster_lists_every_peer_url_of_every_member() -> None:
    members = [member(1, "a", "https://a:2380", "https://a2:2380"), member(2, "", "https://b:2380")]
    assert etcd.initial_cluster(members, members[1], "b") == "a=https://a:2380,a=https://a2:2380,b=https://b:2380"


# --- Commands -------------------------------------------------------------------------------


def test_list_command_has_the_tls_options_and_json_output() -> None:
    assert CTL.list_command() == [
        "/usr/local/bin/etcdctl",
        "--endpoints=https://10.0.0.11:2379",
        "--cacert=/pki/ca.crt",
        "--cert=/pki/c.crt",
        "--key=/pki/c.key",
        "--write-out=json",
        "member",
        "list",
    ]
    assert etcd.ENVIRONMENT == {"ETCDCTL_API": "3"}


def test_endpoints_are_joined_with_commas() -> None:
    ctl = etcd.Etcdctl("etcdctl", ("https://a:2379", "https://b:2379"), "ca", "c", "k")
    assert "--endpoints=https://a:2379,https://b:2379" in ctl.list_command()


def test_add_command_has_learner_only_when_asked() -> None:
    voting = CTL.add_command("etcd-4", ["https://10.0.0.14:2380", "https://[fd00::14]:2380"])
    assert voting[-4:] == ["member", "add", "etcd-4", "--peer-urls=https://10.0.0.14:2380,https://[fd00::14]:2380"]
    assert "--learner" not in voting
    assert CTL.add_command("etcd-4", ["https://10.0.0.14:2380"], learner=True)[-1] == "--learner"


def test_remove_and_update_commands_take_hex_ids() -> None:
    assert CTL.remove_command(16282631086353669233)[-3:] == ["member", "remove", "e1f786b436d7dc71"]
    assert CTL.update_command(0x12, ["https://10.0.0.22:2380"])[-4:] == [
        "member", "update", "12", "--peer-urls=https://10.0.0.22:2380"
    ]


@pytest.mark.parametrize(
    "url, ok",
    [
        ("https://10.0.0.11:2379", True),
        ("https://[fd00::1]:2380", True),
        ("http://etcd-1.example.com:2379/", True),
        ("10.0.0.11:2379", False),
        ("https://10.0.0.11", False),
        ("unix://etcd:2379", False),
        ("https://10.0.0.11:2379/v3", False),
    ],
)
def test_url_problems(url, ok) -> None:
    assert (etcd.url_problems("endpoints", [url]) == []) is ok


# --- Decisions ------------------------------------------------------------------------------


def test_present_unchanged_when_the_named_member_has_the_peer_urls() -> None:
    plan = etcd.plan_present(THREE, "etcd-2", ["https://10.0.0.12:2380/"])
    assert plan.action == "none" and plan.member is THREE[1]


def test_present_unchanged_for_an_unstarted_member_with_the_same_peer_urls() -> None:
    members = [*THREE, member(0x14, "", "https://10.0.0.14:2380")]
    plan = etcd.plan_present(members, "etcd-4", ["https://10.0.0.14:2380"])
    assert plan.action == "none" and plan.member.hex_id == "14" and "not started" in plan.reason


def test_present_updates_the_peer_urls_of_the_named_member() -> None:
    plan = etcd.plan_present(THREE, "etcd-3", ["https://10.0.1.13:2380"])
    assert plan.action == "update" and plan.member is THREE[2]


def test_present_adds_a_missing_member() -> None:
    assert etcd.plan_present(THREE, "etcd-4", ["https://10.0.0.14:2380"]).action == "add"


def test_present_refuses_peer_urls_of_another_member() -> None:
    expected = r"https://10.0.0.13:2380 for member etcd-4 already belongs to member etcd-3 \(ID 13"
    with pytest.raises(etcd.Refused, match=expected):
        etcd.plan_present(THREE, "etcd-4", ["https://10.0.0.13:2380"])
    with pytest.raises(etcd.Refused, match="already belongs to member etcd-3"):
        etcd.plan_present(THREE, "etcd-2", ["https://10.0.0.13:2380"])


def test_present_refuses_an_ambiguous_name() -> None:
    members = [*THREE, member(0x21, "etcd-3", "https://10.0.0.23:2380")]
    with pytest.raises(etcd.Refused, match="Several members are named etcd-3"):
        etcd.plan_present(members, "etcd-3", ["https://10.0.0.33:2380"])
    assert etcd.plan_present(members, "etcd-3", ["https://10.0.0.23:2380"]).member.hex_id == "21"


def test_absent_by_name_and_by_peer_urls() -> None:
    assert etcd.plan_absent(THREE, "etcd-2", None).member is THREE[1]
    assert etcd.plan_absent(THREE, None, ["https://10.0.0.13:2380"]).member is THREE[2]
    assert etcd.plan_absent(THREE, "etcd-2", ["https://10.0.0.12:2380"]).action == "remove"


def test_absent_unchanged_when_there_is_no_such_member() -> None:
    plan = etcd.plan_absent(THREE, "etcd-9", ["https://10.0.0.19:2380"])
    assert plan.action == "none" and plan.member is None
    assert plan.reason == "no member named etcd-9 and with peer URLs https://10.0.0.19:2380"


def test_absent_refuses_the_last_member() -> None:
    with pytest.raises(etcd.Refused, match="it is the last member of the cluster"):
        etcd.plan_absent(THREE[:1], "etcd-1", None)


def test_absent_refuses_when_name_and_peer_urls_are_two_members() -> None:
    with pytest.raises(etcd.Refused, match="Several members match"):
        etcd.plan_absent(THREE, "etcd-1", ["https://10.0.0.12:2380"])


# --- Errors ---------------------------------------------------------------------------------


def test_failure_message_has_the_command_the_error_and_a_hint() -> None:
    error = etcd.EtcdctlFailed(CTL.add_command("etcd-4", ["https://10.0.0.14:2380"]), 1, "", STDERR_UNHEALTHY)
    message = str(error)
    assert message.startswith("etcdctl member add failed: etcdserver: unhealthy cluster. Command: /usr/local/bin/")
    assert "--cacert=/pki/ca.crt" in message and "member add etcd-4" in message
    assert "start (or remove) that member" in message and error.hint in message


@pytest.mark.parametrize(
    "stderr, expected",
    [
        ("Error: x509: certificate signed by unknown authority", "ca_cert is the etcd CA"),
        ("Error: remote error: tls: bad certificate", "client certificate"),
        ('{"error":"... connection refused"}\nError: context deadline exceeded', "is etcd running"),
        ("Error: etcdserver: Peer URLs already exists", "remove the stale one"),
        ("Error: etcdserver: member ID already exist", "remove the stale one"),
        ("Error: etcdserver: re-configuration failed due to not enough started members", "retry in a few seconds"),
        ("Error: unknown flag: --learner", "etcd 3.4 or later"),
        ("Error: open /pki/c.key: permission denied", "become"),
        ("Error: something new", None),
    ],
)
def test_hints(stderr, expected) -> None:
    hint = etcd.error_hint(stderr)
    assert (hint is None) if expected is None else (expected in hint)


def test_error_line_without_an_error_prefix_is_the_last_line() -> None:
    assert etcd.error_line("first\nlast words\n\n") == "last words"
    assert str(etcd.EtcdctlFailed(["etcdctl", "member", "list"], 2, "", "")).startswith(
        "etcdctl member list failed: exit code 2."
    )


def test_diagnose_tells_down_endpoints_from_tls_failures() -> None:
    def connect(address, timeout):
        if address[0] == "10.0.0.12":
            raise ConnectionRefusedError(111, "Connection refused")
        return FakeConnection()

    failure = etcd.EtcdctlFailed(CTL.list_command(), 1, "", "Error: context deadline exceeded")
    diagnosed = etcd.diagnose(failure, ["https://10.0.0.11:2379", "https://10.0.0.12:2379"], connect)
    assert diagnosed.hint.startswith("No connection to https://10.0.0.12:2379 (Connection refused): is etcd running")
    assert "https://10.0.0.11:2379 accepts connections, so the TLS handshake most likely failed" in diagnosed.hint
    assert diagnosed.hint in str(diagnosed) and diagnosed.cmd == failure.cmd


def test_diagnose_leaves_other_failures_alone() -> None:
    failure = etcd.EtcdctlFailed(CTL.list_command(), 1, "", STDERR_UNHEALTHY)
    assert etcd.diagnose(failure, ["https://10.0.0.11:2379"], connect=None) is failure


class FakeConnection:
    def close(self) -> None:
        pass


# --- Converge with a fake runner ------------------------------------------------------------


class FakeEtcdctl:
    """Answers etcdctl commands from canned outputs and records them."""

    def __init__(self, list_stdout: str, **answers: tuple) -> None:
        self.answers = {"list": (0, list_stdout, ""), **answers}
        self.commands: list[list[str]] = []

    def __call__(self, cmd: list) -> tuple:
        self.commands.append(cmd)
        return self.answers[cmd[cmd.index("member") + 1]]

    @property
    def subcommands(self) -> list[str]:
        return [cmd[cmd.index("member") + 1] for cmd in self.commands]


def test_converge_list_is_never_changed() -> None:
    runner = FakeEtcdctl(LIST_35)
    result = etcd.converge(CTL, runner, "list")
    assert result["changed"] is False and [m["name"] for m in result["members"]] == ["etcd-1", "etcd-2"]
    assert runner.subcommands == ["list"]


def test_converge_add_returns_the_initial_cluster() -> None:
    one = '{"members":[{"ID":7383792418829112008,"name":"a","peerURLs":["http://127.0.0.1:42380"]}]}'
    runner = FakeEtcdctl(one, add=(0, ADD_34, ""))
    result = etcd.converge(CTL, runner, "present", "c", ["http://127.0.0.1:42391"], learner=True)
    assert result["changed"] and result["action"] == "add" and runner.subcommands == ["list", "add"]
    assert result["initial_cluster"] == "a=http://127.0.0.1:42380,c=http://127.0.0.1:42391"
    assert result["initial_cluster_state"] == "existing"
    assert result["member"]["id"] == "901509db896c96b0" and result["member"]["is_learner"]


def test_converge_remove_runs_member_remove_with_the_hex_id() -> None:
    removed = '{"members":[{"ID":7383792418829112008,"name":"a","peerURLs":["http://127.0.0.1:42380"]}]}'
    runner = FakeEtcdctl(LIST_34, remove=(0, removed, ""))
    result = etcd.converge(CTL, runner, "absent", peer_urls=["http://127.0.0.1:42390"])
    assert result["changed"] and runner.commands[-1][-3:] == ["member", "remove", "e1f786b436d7dc71"]
    assert [m["name"] for m in result["members"]] == ["a"]


def test_converge_raises_etcdctl_failures() -> None:
    runner = FakeEtcdctl(LIST_35, add=(1, "", STDERR_UNHEALTHY))
    with pytest.raises(etcd.EtcdctlFailed) as raised:
        etcd.converge(CTL, runner, "present", "etcd-3", ["https://10.0.0.13:2380"])
    assert raised.value.rc == 1 and raised.value.cmd[-2:] == ["etcd-3", "--peer-urls=https://10.0.0.13:2380"]
