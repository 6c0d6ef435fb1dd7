"""The cluster_* defaults of roles/cluster, as the preflight action receives them."""

from pathlib import Path

import netaddr
import yaml

ROOT = Path(__file__).resolve().parents[2]


def default_settings() -> dict:
    """roles/cluster/defaults/main.yml with its one templated value resolved and the required ones set."""
    settings = yaml.safe_load((ROOT / "roles" / "cluster" / "defaults" / "main.yml").read_text())
    # "{{ cluster_service_cidr | ansible.utils.nthhost(10) }}"
    settings["cluster_dns_ip"] = str(netaddr.IPNetwork(settings["cluster_service_cidr"])[10])
    # Controller paths, ports and a derived URL: not something the preflight checks.
    for unchecked in ("cluster_state_dir", "cluster_admin_kubeconfig", "cluster_apiserver_port",
                      "cluster_apiserver_proxy_port", "cluster_apiserver_node_url"):
        del settings[unchecked]
    # Required, without a default: what an inventory sets.
    settings["cluster_image_registry"] = "mirror.example.internal:5000/k8s"
    return settings
