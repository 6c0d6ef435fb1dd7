"""file_digests: which files on a host need copying."""

import hashlib

import pytest

from ansible_collections.corral.cluster.plugins.modules.file_digests import differing, read_texts


def test_only_missing_and_different_files_are_listed(tmp_path):
    same, changed, missing = tmp_path / "same", tmp_path / "changed", tmp_path / "missing"
    same.write_bytes(b"kubelet")
    changed.write_bytes(b"tampered")
    (tmp_path / "dir").mkdir()
    digest = hashlib.sha256(b"kubelet").hexdigest()
    files = [
        {"path": str(same), "sha256": f"sha256:{digest.upper()}"},
        {"path": str(changed), "sha256": digest},
        {"path": str(missing), "sha256": digest},
        {"path": str(tmp_path / "dir"), "sha256": digest},
    ]
    assert differing(files) == [str(changed), str(missing), str(tmp_path / "dir")]


def test_a_file_with_the_right_content_but_another_mode_or_owner_is_listed(tmp_path):
    import grp
    import os
    import pwd

    path = tmp_path / "key"
    path.write_bytes(b"KEY")
    path.chmod(0o644)
    owner = pwd.getpwuid(os.getuid()).pw_name
    group = grp.getgrgid(os.getgid()).gr_name
    right = {"path": str(path), "sha256": hashlib.sha256(b"KEY").hexdigest(), "owner": owner, "group": group}
    assert differing([{**right, "mode": "0644"}]) == []
    assert differing([{**right, "mode": "0600"}]) == [str(path)]
    assert differing([{**right, "mode": "0644", "owner": "no-such-user"}]) == [str(path)]
    assert differing([{**right, "mode": "0644", "group": "no-such-group"}]) == [str(path)]


def test_directories_missing_or_with_another_mode_are_listed(tmp_path):
    from ansible_collections.corral.cluster.plugins.modules.file_digests import directories_differing

    (tmp_path / "private").mkdir(mode=0o700)
    (tmp_path / "private").chmod(0o700)
    (tmp_path / "afile").write_text("")
    directories = [{"path": str(tmp_path / "private"), "mode": "0700"},
                   {"path": str(tmp_path / "private"), "mode": "0755"},
                   {"path": str(tmp_path / "missing")},
                   {"path": str(tmp_path / "afile")}]
    assert directories_differing(directories) == [str(tmp_path / "private"), str(tmp_path / "missing"),
                                                  str(tmp_path / "afile")]


# --- services that run a binary about to be replaced, or replaced since they started -----------

from ansible_collections.corral.cluster.plugins.modules.file_digests import (  # noqa: E402
    main_pids,
    restarting,
    unit_properties,
)


def test_the_state_of_the_units_comes_from_one_systemctl_call():
    calls = []

    def run_command(argv):
        calls.append(argv)
        return 0, ("ActiveState=active\nUnitFileState=enabled\nId=kubelet.service\n\n"
                   "Id=kube-proxy.service\nActiveState=inactive\nUnitFileState=\n"), ""

    assert unit_properties(run_command, ["kubelet", "kube-proxy", "etcd"], ["ActiveState", "UnitFileState"]) == {
        "kubelet": {"ActiveState": "active", "UnitFileState": "enabled"},
        "kube-proxy": {"ActiveState": "inactive", "UnitFileState": ""}, "etcd": {}}
    assert calls == [["systemctl", "show", "--property=Id,ActiveState,UnitFileState", "--", "kubelet", "kube-proxy",
                      "etcd"]]


def test_main_pids_read_from_one_systemctl_call():
    calls = []

    def run_command(argv):
        calls.append(argv)
        # systemd's order, not the one asked for (MainPID first), as systemd 252 prints it.
        return 0, ("MainPID=4242\nId=kubelet.service\n\nMainPID=0\nId=kube-proxy.service\n\n"
                   "Id=flanneld.service\nMainPID=\n"), ""

    assert main_pids(run_command, ["kubelet", "kube-proxy", "flanneld", "etcd"]) == {
        "kubelet": 4242, "kube-proxy": 0, "flanneld": 0, "etcd": 0}
    assert calls == [["systemctl", "show", "--property=Id,MainPID", "--", "kubelet", "kube-proxy", "flanneld", "etcd"]]
    assert main_pids(run_command, []) == {} and len(calls) == 1


def test_a_running_service_restarts_when_its_binary_differs_or_was_replaced_since_it_started():
    links = {"/proc/11/exe": "/usr/local/bin/kubelet",              # about to be replaced (in differ)
             "/proc/12/exe": "/usr/local/bin/kube-proxy (deleted)",  # replaced by an earlier run
             "/proc/13/exe": "/usr/local/bin/etcd",                  # up to date
             "/proc/14/exe": "/usr/bin/containerd"}                  # another containerd (Docker's)

    def readlink(path):
        if path not in links:
            raise FileNotFoundError(path)
        return links[path]

    services = {"kubelet": "/usr/local/bin/kubelet", "kube-proxy": "/usr/local/bin/kube-proxy",
                "etcd": "/usr/local/bin/etcd", "containerd": "/usr/local/bin/containerd",
                "flanneld": "/usr/local/bin/flanneld", "kube-apiserver": "/usr/local/bin/kube-apiserver"}
    differ = ["/usr/local/bin/kubelet", "/usr/local/bin/containerd", "/usr/local/bin/flanneld",
              "/usr/local/bin/kube-apiserver"]
    pids = {"kubelet": 11, "kube-proxy": 12, "etcd": 13, "containerd": 14, "flanneld": 0, "kube-apiserver": 15}
    # flanneld does not run (a fresh host: its first start runs the new binary); kube-apiserver's
    # process is gone since systemctl answered.
    assert restarting(services, differ, pids, readlink=readlink) == ["kubelet", "kube-proxy"]


def test_read_returns_small_files_text_none_for_a_missing_one_and_refuses_a_large_one(tmp_path):
    hosts, proc = tmp_path / "hosts", tmp_path / "swaps"
    hosts.write_text("127.0.0.1 localhost\n")
    proc.write_text("Filename Type\n")
    assert read_texts([str(hosts), str(proc), str(tmp_path / "none")]) == {
        str(hosts): "127.0.0.1 localhost\n", str(proc): "Filename Type\n", str(tmp_path / "none"): None}
    with pytest.raises(ValueError, match="larger than 1 KiB: read is for text files up to that size"):
        read_texts([str(hosts)], limit=1024) if hosts.write_text("x" * 1025) else None
