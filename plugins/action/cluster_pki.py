# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of corral.cluster.cluster_pki: the module's work, done in the controller's own process.

The PKI lives on the controller, whichever host the task runs for: no module is started for it."""

from __future__ import annotations

from typing import Any, NoReturn

from ansible.errors import AnsibleActionFail

from ansible_collections.corral.cluster.plugins.modules import cluster_pki
from ansible_collections.corral.cluster.plugins.plugin_utils._controller_action import ControllerAction


class Refused(Exception):
    """fail_json of the module, in this process: the message for the person running the playbook."""


class InProcess:
    """What cluster_pki.run reads of its AnsibleModule: the arguments, check mode, and fail_json."""

    def __init__(self, params: dict[str, Any], check_mode: bool) -> None:
        self.params = params
        self.check_mode = check_mode

    def fail_json(self, msg: str, **_kwargs: Any) -> NoReturn:
        raise Refused(msg)


class ActionModule(ControllerAction):
    """Issue (or check) the cluster PKI on the controller."""

    ARGUMENT_SPEC = cluster_pki.ARGUMENT_SPEC
    REQUIRED_IF = cluster_pki.REQUIRED_IF

    def work(self, args: dict[str, Any]) -> dict[str, Any]:
        if cluster_pki.PKI_IMPORT_ERROR:
            raise AnsibleActionFail("cluster_pki needs the Python libraries cryptography and netaddr on the controller: "
                                    + cluster_pki.PKI_IMPORT_ERROR.strip().splitlines()[-1])
        refused = cluster_pki.refusal(args)
        if refused:
            return {"failed": True, "msg": refused}
        try:
            return cluster_pki.run(InProcess(args, self._task.check_mode))
        except Refused as error:
            return {"failed": True, "msg": str(error)}
