"""file_digests: which files on a host need copying."""

import hashlib

from ansible_collections.corral.cluster.plugins.modules.file_digests import differing


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
