"""Filters that turn the cluster settings into what the Kubernetes components read."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any, Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.corral.cluster.plugins.module_utils import kubernetes, pod_network, upgrade

DOCUMENTATION = r"""
name: kube_args
short_description: Command-line flags of a Kubernetes component for a release
version_added: 0.1.0
description:
  - The flags of kube-apiserver, kube-controller-manager, kube-scheduler or kubelet, with the
    differences between Kubernetes releases applied (module_utils/kubernetes.py is the one place
    that knows them). The companion filters are C(kube_config) (configuration documents),
    C(pod_routes) (bridge networking, from the pod subnets the preflight assigns, the fact C(cluster_pod_cidrs)) and C(kubeconfig).
options:
  _input:
    description: Component name.
    type: str
    required: true
  settings:
    description: The component's settings; see module_utils/kubernetes.py for the keys.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Show the flags kube-apiserver gets
  ansible.builtin.debug:
    msg: "{{ 'kube-apiserver' | corral.cluster.kube_args(settings) }}"
"""

RETURN = r"""
_value:
  description: C(--flag=value) strings, sorted.
  type: list
  elements: str
"""

_ARGS = {
    "kube-apiserver": kubernetes.apiserver_args,
    "kube-controller-manager": kubernetes.controller_manager_args,
    "kube-scheduler": kubernetes.scheduler_args,
    "kubelet": kubernetes.kubelet_args,
}
_CONFIGS = {
    "KubeSchedulerConfiguration": kubernetes.scheduler_config,
    "KubeletConfiguration": kubernetes.kubelet_config,
    "KubeProxyConfiguration": kubernetes.kube_proxy_config,
    "AdmissionConfiguration": kubernetes.admission_config,
}


def kube_args(component: str, settings: Mapping[str, Any]) -> list[str]:
    if component not in _ARGS:
        raise AnsibleFilterError(f"kube_args: unknown component '{component}' (known: {', '.join(_ARGS)})")
    try:
        return _ARGS[component](settings)
    except (KeyError, ValueError) as error:
        raise AnsibleFilterError(f"kube_args({component}): {error}") from error


def kube_config(kind: str, settings: Mapping[str, Any]) -> dict[str, Any]:
    if kind not in _CONFIGS:
        raise AnsibleFilterError(f"kube_config: unknown kind '{kind}' (known: {', '.join(_CONFIGS)})")
    try:
        return _CONFIGS[kind](settings)
    except (KeyError, ValueError) as error:
        raise AnsibleFilterError(f"kube_config({kind}): {error}") from error


def _need_netaddr(name: str) -> None:
    if pod_network.NETADDR_IMPORT_ERROR:
        raise AnsibleFilterError(f"corral.cluster.{name} needs the Python library netaddr on the controller: install "
                                 "it next to ansible-core (pip install netaddr).")


def pod_routes(cidrs: Mapping[str, str], host: str, identities: Mapping[str, Mapping[str, str]]) -> list[dict]:
    """The routes host needs to reach every other node's pods: [{dest, via}]."""
    _need_netaddr("pod_routes")
    return pod_network.routes_for(host, identities, cidrs)


def kubeconfig(user: str, cluster_name: str, server: str, pki_dir: str, cert: str) -> dict:
    """A kubeconfig for one client identity, with the cluster CA and the identity's certificate and
    key (<pki_dir>/<cert>.crt and .key, on the controller) embedded."""
    def b64(name: str) -> str:
        path = Path(pki_dir).expanduser() / name
        try:
            text = path.read_text()
        except OSError as error:
            raise AnsibleFilterError(
                f"kubeconfig for {user}: cannot read {path} ({error.strerror}); the pki role issues it"
            ) from error
        return base64.b64encode(text.strip().encode() + b"\n").decode()

    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster_name,
                      "cluster": {"server": server, "certificate-authority-data": b64("ca.crt")}}],
        "users": [{"name": user,
                   "user": {"client-certificate-data": b64(f"{cert}.crt"), "client-key-data": b64(f"{cert}.key")}}],
        "contexts": [{"name": f"{user}@{cluster_name}", "context": {"cluster": cluster_name, "user": user}}],
        "current-context": f"{user}@{cluster_name}",
        "preferences": {},
    }


def release_problems(target: str, control_planes: Mapping[str, Any], kubelets: Mapping[str, Any] | None = None,
                     upgrading: bool = False) -> list[str]:
    """What refuses a run for the Kubernetes release: upgrade.yml's skew rules (upgrading), or
    site.yml's refusal to change the release of a running cluster (module_utils/upgrade.py)."""
    if upgrading:
        return upgrade.upgrade_problems(target, control_planes, kubelets or {})
    return upgrade.site_problems(target, control_planes)


def kubernetes_units(units: Mapping[str, Mapping[str, Any]], cluster_name: str, header: str) -> list[dict[str, Any]]:
    """The components' systemd units (name -> {bin_dir, args, requires, start_timeout}) as distribute_files
    entries; HEADER is the ansible_managed comment (the common role's managed.j2)."""
    return kubernetes.unit_files(units, cluster_name, header)


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "kube_args": kube_args,
            "kube_config": kube_config,
            "pod_routes": pod_routes,
            "kubeconfig": kubeconfig,
            "release_problems": release_problems,
            "kubernetes_units": kubernetes_units,
        }
