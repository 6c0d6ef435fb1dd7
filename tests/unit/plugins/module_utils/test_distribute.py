"""The plan of distribute_files: entries checked by name, sums from the controller's files."""

import hashlib

import pytest

from ansible_collections.corral.cluster.plugins.module_utils.distribute import (
    file_sha256,
    missing_sources,
    plan_entries,
    services_of,
    wanted_digests,
)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_entries_default_to_root_and_keep_their_source():
    entries = plan_entries([{"dest": "/etc/a.crt", "src": "/pki/a.crt", "mode": "0644"},
                            {"dest": "/etc/b.conf", "content": "b", "mode": "0600", "owner": "etcd", "group": "etcd"}])
    assert entries == [{"dest": "/etc/a.crt", "src": "/pki/a.crt", "mode": "0644", "owner": "root", "group": "root",
                        "secret": False, "services": []},
                       {"dest": "/etc/b.conf", "content": "b", "mode": "0600", "owner": "etcd", "group": "etcd",
                        "secret": True, "services": []}]


def test_the_services_of_the_changed_files_are_named_once_in_entry_order():
    entries = plan_entries([{"dest": "/pki/kubelet.crt", "src": "/c/kubelet.crt", "mode": "0644", "services": "kubelet"},
                            {"dest": "/kubelet.conf", "content": "k", "mode": "0600", "services": ["kubelet"]},
                            {"dest": "/proxy.conf", "content": "p", "mode": "0600", "services": ["kube-proxy", ""]},
                            {"dest": "/hosts.toml", "content": "h", "mode": "0644"}])
    assert services_of(entries, ["/hosts.toml", "/proxy.conf", "/kubelet.conf", "/pki/kubelet.crt"]) == [
        "kubelet", "kube-proxy"]
    assert services_of(entries, ["/hosts.toml"]) == []


def test_a_file_may_say_it_is_no_secret_whatever_its_mode():
    entries = plan_entries([{"dest": "/var/lib/kubelet/config.yaml", "content": "x", "mode": "0600", "secret": False}])
    assert entries[0]["secret"] is False


@pytest.mark.parametrize("files, message", [
    ("a", "files must be a list"),
    ([{"dest": "etc/a", "src": "/a", "mode": "0644"}], r"files\[0\]: dest must be an absolute file path, got 'etc/a'"),
    ([{"dest": "/etc/a", "mode": "0644"}], r"files\[0\] \(/etc/a\): give exactly one of src"),
    ([{"dest": "/etc/a", "src": "/a", "content": "x", "mode": "0644"}], "give exactly one of src"),
    ([{"dest": "/etc/a", "src": "a", "mode": "0644"}], "src must be an absolute path on the controller"),
    ([{"dest": "/etc/a", "src": "/a", "mode": 644}], r"mode must be an octal string such as \"0600\", got 644"),
    ([{"dest": "/etc/a", "src": "/a", "mode": "0600", "secret": "no"}], "secret must be true or false, got 'no'"),
    ([{"dest": "/etc/a", "src": "/a", "mode": "0600", "services": {"kubelet": 1}}],
     r"services must be a list of systemd service names, got \{'kubelet': 1\}"),
    ([{"dest": "/etc/a", "src": "/a", "mode": "0644"}, {"dest": "/etc/a", "content": "", "mode": "0644"}],
     r"files\[1\]: /etc/a is listed twice"),
])
def test_bad_entries_are_refused_naming_the_entry_and_the_fix(files, message):
    with pytest.raises(ValueError, match=message):
        plan_entries(files)


def test_sums_come_from_the_content_or_the_controller_file_and_missing_sources_are_listed():
    controller = {"/pki/a.crt": b"A"}
    entries = plan_entries([
        {"dest": "/etc/a.crt", "src": "/pki/a.crt", "mode": "0644"},
        {"dest": "/etc/b.crt", "src": "/pki/b.crt", "mode": "0644"},
        {"dest": "/etc/c.conf", "content": "C\n", "mode": "0600"},
        {"dest": "/etc/d.conf", "pending": "/pki/d.key", "mode": "0600"},
    ])
    wanted, missing = wanted_digests(entries, lambda path: sha(controller[path]) if path in controller else None)
    assert wanted == [
        {"path": "/etc/a.crt", "sha256": sha(b"A"), "mode": "0644", "owner": "root", "group": "root"},
        {"path": "/etc/c.conf", "sha256": sha(b"C\n"), "mode": "0600", "owner": "root", "group": "root"},
    ]
    assert missing == ["/etc/b.crt", "/etc/d.conf"]
    assert missing_sources(entries, missing) == ["/pki/b.crt", "/pki/d.key"]


def test_the_controller_digest_reads_a_file_in_chunks_and_says_none_when_it_is_missing(tmp_path):
    archive = tmp_path / "image.tar"
    archive.write_bytes(b"x" * 2500 + b"end")
    assert file_sha256(str(archive), chunk=1000) == sha(b"x" * 2500 + b"end")
    assert file_sha256(str(tmp_path / "absent.tar")) is None
