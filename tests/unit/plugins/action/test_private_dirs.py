"""private_dirs: the controller's state directories made or put back 0700, whatever the umask."""

import os
import stat

import pytest
from ansible.errors import AnsibleActionFail

from ansible_collections.corral.cluster.plugins.action.private_dirs import make_private


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_missing_directories_and_parents_are_made_0700_under_a_loose_umask(tmp_path):
    target = tmp_path / "state" / "lab" / "backups"
    old = os.umask(0o002)
    try:
        made = make_private(str(target), check_mode=False)
    finally:
        os.umask(old)
    assert made == [str(tmp_path / "state"), str(tmp_path / "state" / "lab"), str(target)]
    assert {mode(path) for path in made} == {0o700}
    assert make_private(str(target), check_mode=False) == []


def test_a_loose_directory_is_put_back_and_check_mode_only_reports(tmp_path):
    loose = tmp_path / "lab"
    loose.mkdir()
    loose.chmod(0o755)
    assert make_private(str(loose), check_mode=True) == [str(loose)]
    assert mode(loose) == 0o755
    assert make_private(str(tmp_path / "new"), check_mode=True) == [str(tmp_path / "new")]
    assert not (tmp_path / "new").exists()
    assert make_private(str(loose), check_mode=False) == [str(loose)]
    assert mode(loose) == 0o700


def test_a_file_in_the_way_is_refused_by_name(tmp_path):
    (tmp_path / "state").write_text("")
    with pytest.raises(AnsibleActionFail, match="state exists and is not a directory"):
        make_private(str(tmp_path / "state" / "lab"), check_mode=False)
