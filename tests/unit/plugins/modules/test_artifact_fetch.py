"""Unit tests of the artifact_fetch module: plan to per-host files, check mode, refusals."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import yaml

from ansible_collections.corral.cluster.plugins.module_utils import artifacts as lib
from ansible_collections.corral.cluster.plugins.modules import artifact_fetch

URL = "https://dl.k8s.io/release/v{version}/bin/linux/{arch}/"
HOSTS = {
    "cp": {"arch": "amd64", "groups": ["etcd", "kube_control_plane", "k8s_cluster"]},
    "worker": {"arch": "amd64", "groups": ["kube_node", "k8s_cluster"]},
}


def params(tmp_path: Path, **overrides) -> dict:
    mirror = tmp_path / "mirror"
    sums = {}
    for name in ("kube-apiserver", "kubelet"):
        data = name.encode()
        path = mirror / "dl.k8s.io/release/v1.20.2/bin/linux/amd64" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        sums[name] = {"1.20.2": "sha256:" + hashlib.sha256(data).hexdigest()}
    return {
        "catalog": {
            "kube-apiserver": {"version": "1.20.2", "url": URL + "kube-apiserver", "sha256": "published",
                               "kind": "binary", "groups": ["kube_control_plane"]},
            "kubelet": {"version": "1.20.2", "url": URL + "kubelet", "sha256": "pinned", "kind": "binary",
                        "groups": ["k8s_cluster"]},
        },
        "hosts": HOSTS,
        "checksums": {},
        "checksum_overrides": sums,
        "mirror_url": mirror.as_uri(),
        "cache_dir": str(tmp_path / "cache"),
        "offline": True,
        **overrides,
    }


def test_each_host_gets_the_files_of_its_groups_then_a_rerun_changes_nothing(tmp_path: Path) -> None:
    first = artifact_fetch.run(params(tmp_path), check_mode=False)
    assert first["changed"]
    assert [file["name"] for file in first["hosts"]["cp"]] == ["kube-apiserver", "kubelet"]
    assert [file["artifact"] for file in first["hosts"]["worker"]] == ["kubelet"]
    assert first["needs"]["worker"] == ["kubelet"]
    second = artifact_fetch.run(params(tmp_path), check_mode=False)
    assert not second["changed"] and second["hosts"] == first["hosts"]


def test_check_mode_reports_pending_and_writes_nothing(tmp_path: Path) -> None:
    result = artifact_fetch.run(params(tmp_path), check_mode=True)
    assert result["changed"] and result["pending"] == ["kube-apiserver 1.20.2 (amd64)", "kubelet 1.20.2 (amd64)"]
    assert result["hosts"] == {"cp": [], "worker": []}
    assert not (tmp_path / "cache").exists()


def test_a_bad_mirror_url_is_refused_before_anything_is_fetched(tmp_path: Path) -> None:
    with pytest.raises(lib.ArtifactError, match="artifacts_mirror_url 'ftp://x' is not"):
        artifact_fetch.run(params(tmp_path, mirror_url="ftp://x"), check_mode=False)
    assert not (tmp_path / "cache").exists()


def test_a_missing_sum_is_refused_before_anything_is_fetched(tmp_path: Path) -> None:
    with pytest.raises(lib.ArtifactError, match="artifacts_checksums.kubelet.1.20.2"):
        artifact_fetch.run(params(tmp_path, checksum_overrides={}), check_mode=False)
    assert not (tmp_path / "cache").exists()


def test_plan_only_refuses_a_release_without_a_sum_and_fetches_nothing(tmp_path: Path) -> None:
    # What the preflight runs before any host changes.
    ok = artifact_fetch.run(params(tmp_path, plan_only=True, mirror_url="https://unreachable.invalid"),
                            check_mode=False)
    assert ok == {"changed": False, "artifacts": [], "hosts": {}, "pending": [],
                  "needs": {"cp": ["kube-apiserver", "kubelet"], "worker": ["kubelet"]}}
    assert not (tmp_path / "cache").exists()
    with pytest.raises(lib.ArtifactError, match=r"No sha256 is known for kubelet 1\.20\.2 \(amd64\).*"
                                                r"artifacts_checksums\.kubelet\.1\.20\.2"):
        artifact_fetch.run(params(tmp_path, plan_only=True, checksum_overrides={}), check_mode=False)


def test_a_rerun_reads_only_the_cached_files_that_changed_since_the_last_run(tmp_path: Path, monkeypatch) -> None:
    """The sums memo: a cached file is read again when its size, mtime, ctime or inode changed, so a file
    corrupted or replaced in the cache is still caught (and fetched again)."""
    read = []
    real = lib.file_sha256
    monkeypatch.setattr(lib, "file_sha256", lambda path: read.append(Path(path).name) or real(path))
    monkeypatch.setattr(lib.SumMemo.__init__, "__defaults__", (lib.file_sha256,))
    first = artifact_fetch.run(params(tmp_path), check_mode=False)
    assert (tmp_path / "cache" / lib.SUMS_MEMO).is_file()
    read.clear()
    assert artifact_fetch.run(params(tmp_path), check_mode=False)["hosts"] == first["hosts"]
    assert read == []  # nothing changed: nothing read
    cached = Path(first["hosts"]["worker"][0]["src"])
    cached.write_bytes(b"corrupted")
    again = artifact_fetch.run(params(tmp_path), check_mode=False)
    assert read == ["kubelet"]  # read again, found wrong, fetched again from the mirror
    assert cached.read_bytes() == b"kubelet" and again["changed"]


def test_check_mode_does_not_write_the_sums_memo(tmp_path: Path) -> None:
    artifact_fetch.run(params(tmp_path), check_mode=False)
    (tmp_path / "cache" / lib.SUMS_MEMO).unlink()
    artifact_fetch.run(params(tmp_path), check_mode=True)
    assert not (tmp_path / "cache" / lib.SUMS_MEMO).exists()


def test_the_action_reads_the_pinned_table_from_checksums_file_and_reports_a_refusal(tmp_path: Path) -> None:
    from unittest.mock import MagicMock

    from ansible_collections.corral.cluster.plugins.action.artifact_fetch import ActionModule

    args = params(tmp_path)
    args["checksum_overrides"] = {"kube-apiserver": args["checksum_overrides"]["kube-apiserver"]}
    table = tmp_path / "checksums.yml"  # kubelet's sum is "pinned": in the table only
    table.write_text(yaml.safe_dump({"kubelet": {"amd64": {"1.20.2": "sha256:" + hashlib.sha256(b"kubelet").hexdigest()}}}))

    def action(**task_args):
        task = MagicMock(args=task_args, async_val=0, check_mode=False)
        return ActionModule(task, MagicMock(), MagicMock(), loader=None, templar=None, shared_loader_obj=None)

    fetched = action(**{**args, "checksums_file": str(table)}).run(task_vars={})
    assert not fetched.get("failed") and [file["name"] for file in fetched["hosts"]["cp"]] == [
        "kube-apiserver", "kubelet"]
    refused = action(**args).run(task_vars={})  # no table, no overrides: kubelet has no sum
    assert refused["failed"] and "artifacts_checksums.kubelet.1.20.2" in refused["msg"]
