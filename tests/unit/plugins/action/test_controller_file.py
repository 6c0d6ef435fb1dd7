"""controller_file: a file of the controller written only when its content or mode differs, 0600 whatever the
umask, never in check mode."""

from __future__ import annotations

import os
import stat
from unittest.mock import MagicMock

import pytest
from ansible.errors import AnsibleActionFail

from ansible_collections.corral.cluster.plugins.action.controller_file import ActionModule


def run(check_mode=False, **args):
    task = MagicMock(args=args, async_val=0, check_mode=check_mode)
    return ActionModule(task, MagicMock(), MagicMock(), loader=None, templar=None, shared_loader_obj=None).run(
        task_vars={})


def test_written_when_missing_or_different_never_when_equal(tmp_path):
    path = tmp_path / "admin.conf"
    old = os.umask(0o002)
    try:
        assert run(check_mode=True, path=str(path), content="a: 1\n")["changed"] and not path.exists()
        assert run(path=str(path), content="a: 1\n") == {"changed": True, "path": str(path)}
        assert path.read_text() == "a: 1\n" and stat.S_IMODE(path.stat().st_mode) == 0o600
        assert run(path=str(path), content="a: 1\n")["changed"] is False
        path.chmod(0o644)
        assert run(path=str(path), content="a: 1\n")["changed"] is True
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert run(path=str(path), content="a: 2\n")["changed"] and path.read_text() == "a: 2\n"
    finally:
        os.umask(old)
    assert sorted(os.listdir(tmp_path)) == ["admin.conf"]  # no temporary file left beside it


def test_a_missing_directory_or_a_bad_mode_is_refused_by_name(tmp_path):
    with pytest.raises(AnsibleActionFail, match="the directory of .*/none/admin.conf does not exist"):
        run(path=str(tmp_path / "none" / "admin.conf"), content="x")
    with pytest.raises(AnsibleActionFail, match="mode must be an octal string"):
        run(path=str(tmp_path / "admin.conf"), content="x", mode="rw")
