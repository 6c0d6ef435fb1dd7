# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shape of the collection's actions whose work is the controller's (its PKI, artifacts, state):
done in the controller's own process, whichever host the task runs for; no connection, no module."""

from __future__ import annotations

from typing import Any, Optional

from ansible.plugins.action import ActionBase


class ControllerAction(ActionBase):
    """Validate the task's arguments against ARGUMENT_SPEC (and REQUIRED_IF), then ``work``: its dict is the
    result (changed, failed and msg included)."""

    TRANSFERS_FILES = False
    _requires_connection = False
    ARGUMENT_SPEC: dict[str, Any] = {}
    REQUIRED_IF: list[Any] = []

    def run(self, tmp: Any = None, task_vars: Optional[dict[str, Any]] = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        _unused, args = self.validate_argument_spec(argument_spec=self.ARGUMENT_SPEC, required_if=self.REQUIRED_IF)
        result.update(self.work(args))
        return result

    def work(self, args: dict[str, Any]) -> dict[str, Any]:
        """The task's work with its validated arguments, in check mode when self._task.check_mode."""
        raise NotImplementedError
