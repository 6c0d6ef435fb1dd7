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
