# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of corral.cluster.cluster_preflight: validates on the controller, touches no host."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Optional

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

try:
    import netaddr
except ImportError as error:  # netaddr missing on the controller: reported when the action runs
    netaddr = None
    IMPORT_ERROR: Optional[ImportError] = error
else:
    IMPORT_ERROR = None

from ansible_collections.corral.cluster.plugins.module_utils.preflight import (
    CLUSTER_GROUPS,
    DEFAULT_REQUIRED_GROUPS,
    SETTINGS,
    HostSpec,
    Spec,
    checked_hosts,
    pod_cidr_plan,
    validate,
)

# The settings are not arguments: the action reads them from the play's variables (SETTINGS of
# module_utils/preflight.py, the cluster role's), so that each is written once, in that role.
ARGUMENT_SPEC = {
    "required_groups": {"type": "list", "elements": "str", "default": list(DEFAULT_REQUIRED_GROUPS)},
    "etcd_allow_even_members": {"type": "bool", "default": False},
}


class ActionModule(ActionBase):
    """Check the inventory and the cluster settings; fail listing every problem found."""

    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp: Any = None, task_vars: Optional[dict[str, Any]] = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        if IMPORT_ERROR is not None:
            raise AnsibleActionFail(
                f"cluster_preflight needs the Python library netaddr on the controller ({IMPORT_ERROR}): "
                "install it next to ansible-core (pip install netaddr)."
            )
        _unused, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        task_vars = task_vars or {}
        # --limit: the hosts this play reaches (the preflight gathered the facts of the others).
        limited_to = task_vars.get("ansible_play_hosts_all") if task_vars.get("ansible_limit") else None
        settings = self.settings(task_vars)
        spec = build_spec(args, settings, task_vars.get("groups", {}), task_vars.get("hostvars", {}), limited_to)
        problems = validate(spec)
        if problems:
            result.update(
                failed=True,
                problems=problems,
                msg=f"Preflight found {len(problems)} problem(s):\n" + "\n".join(f" - {p}" for p in problems),
            )
        else:
            result.update(
                changed=False,
                msg=summary(spec),
                # Derived once, here, for every role: each Kubernetes host's pod subnet.
                ansible_facts={"cluster_preflight_passed": True, "cluster_pod_cidrs": pod_cidr_plan(
                    settings["cluster_pod_cidr"], settings["cluster_pod_node_prefix"], spec["groups"], spec["hosts"])},
            )
        return result

    def settings(self, task_vars: Mapping[str, Any]) -> dict[str, Any]:
        """The cluster settings the preflight checks, from the play's variables (templated)."""
        missing = [name for name in SETTINGS if name not in task_vars]
        if missing:
            raise AnsibleActionFail(
                f"{', '.join(missing)} undefined: set them in the inventory (the settings of the role "
                "corral.cluster.cluster, roles/cluster/meta/argument_specs.yml); the role corral.cluster.preflight "
                "loads that role's defaults."
            )
        return {name: self._templar.template(task_vars[name]) for name in SETTINGS}


def build_spec(args: Mapping[str, Any], settings: Mapping[str, Any], groups: Mapping[str, Any],
               hostvars: Mapping[str, Any], limited_to: Optional[Sequence[str]] = None) -> Spec:
    """The plain dict validate() takes, from the task args, the settings and the inventory of this run."""
    required_groups = list(args["required_groups"])
    checked = {group: list(groups.get(group, ())) for group in dict.fromkeys([*CLUSTER_GROUPS, *required_groups])}
    # hostvars[host] (HostVarsVars) templates each value on access, in the context of that host.
    found = {host: host_spec_from_vars(hostvars[host]) for host in checked_hosts(checked) if host in hostvars}
    hosts = {host: host_spec for host, host_spec in found.items() if host_spec is not None}
    return {
        "settings": {name: settings[name] for name in SETTINGS},
        "groups": checked,
        "hosts": hosts,
        "options": {
            "required_groups": required_groups,
            "etcd_allow_even_members": args["etcd_allow_even_members"],
            "limited_to": None if limited_to is None else list(limited_to),
        },
    }


def host_spec_from_vars(host_vars: Mapping[str, Any]) -> Optional[HostSpec]:
    """What validate() needs of one host; None when the role gathered nothing on it this run."""
    facts = host_vars.get("ansible_facts") or {}
    if not facts.get("os_family") or "cluster_node_ip" not in host_vars:
        return None
    node_ip = str(host_vars.get("cluster_node_ip") or "").strip() or None
    return {
        "node_name": host_vars.get("cluster_node_name"),
        "node_ip": node_ip,
        "os_family": facts.get("os_family"),
        "distribution": facts.get("distribution"),
        "distribution_major_version": facts.get("distribution_major_version"),
        "node_network": node_network(facts, node_ip),
        "node_pod_cidr": host_vars.get("node_pod_cidr"),
    }


def node_network(facts: Mapping[str, Any], node_ip: Optional[str]) -> Optional[str]:
    """CIDR of the network of the interface holding node_ip, from the `network` facts subset."""
    if not node_ip:
        return None
    for interface in facts.get("interfaces", ()):
        # Fact keys replace '-' and ':' of interface names with '_'.
        details = facts.get(interface) or facts.get(interface.replace("-", "_").replace(":", "_")) or {}
        addresses = [details.get("ipv4") or {}, *(details.get("ipv4_secondaries") or ())]
        for address in addresses:
            if address.get("address") == node_ip and address.get("netmask"):
                return str(netaddr.IPNetwork(f"{node_ip}/{address['netmask']}").cidr)
    return None


def summary(spec: Spec) -> str:
    groups = spec["groups"]
    settings = spec["settings"]
    counts = ", ".join(f"{len(groups[group])} {group}" for group in CLUSTER_GROUPS if groups.get(group))
    return (
        f"Preflight passed for {len(spec['hosts'])} host(s) ({counts}): Kubernetes "
        f"{settings['cluster_kubernetes_version']} with {settings['cluster_container_runtime']} and "
        f"{settings['cluster_network_plugin']}, pods {settings['cluster_pod_cidr']}, "
        f"Services {settings['cluster_service_cidr']}."
    )
