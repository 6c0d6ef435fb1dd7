# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a running cluster's release may change to, by Kubernetes' version skew policy.

site.yml never changes the release of a running cluster (it would replace every binary and
restart every component at once); upgrade.yml does, one minor release at a time or a patch,
control planes first, then the nodes. Pure: the running versions are read by the preflight
(kube-apiserver --version on each control plane, each Node's kubeletVersion from the API).
"""

from typing import Dict, List, Mapping, Optional, Tuple

from ansible_collections.corral.cluster.plugins.module_utils.version import version_tuple

# kubelet may be this many minor releases older than kube-apiserver (2 before 1.28).
KUBELET_SKEW = 3
KUBELET_SKEW_BEFORE_1_28 = 2


def _release(value) -> Optional[Tuple[int, int, int]]:
    """(major, minor, patch) of "v1.35.8", "1.35.8" or "Kubernetes v1.35.8"; None when absent."""
    return version_tuple(value, anywhere=True) if value else None


def _text(release: Tuple[int, int, int]) -> str:
    return "%d.%d.%d" % release


def _minor(release: Tuple[int, int, int]) -> str:
    return "%d.%d" % release[:2]


def _steps(current: Tuple[int, int, int], target: Tuple[int, int, int]) -> str:
    """'1.35.x, then 1.36.x, then 1.36.4': the releases upgrade.yml must go through."""
    steps = ["%d.%d.x" % (target[0], minor) for minor in range(current[1] + 1, target[1])]
    return ", then ".join(steps + [_text(target)])


def running_release(control_planes: Mapping[str, Optional[str]]) -> Dict[str, Tuple[int, int, int]]:
    """{control plane: release} of the control planes where kube-apiserver is installed."""
    found = {}
    for host, value in control_planes.items():
        release = _release(value)
        if release:
            found[host] = release
    return found


def site_problems(target: str, control_planes: Mapping[str, Optional[str]]) -> List[str]:
    """site.yml on a running cluster: cluster_kubernetes_version must be the release it runs."""
    wanted = _release(target)
    running = running_release(control_planes)
    different = {host: release for host, release in running.items() if release != wanted}
    if not wanted or not different:
        return []
    hosts = ", ".join("%s (%s)" % (host, _text(release)) for host, release in sorted(different.items()))
    oldest = min(running.values())
    return ["cluster_kubernetes_version is %s, but kube-apiserver runs another release on %s. site.yml does not "
            "change the release of a running cluster (every binary replaced and every component restarted at "
            "once): run upgrade.yml with cluster_kubernetes_version %s (control planes one at a time, nodes "
            "drained in batches), or set cluster_kubernetes_version: %s to keep the running release."
            % (target, hosts, target, _text(oldest))]


def upgrade_problems(target: str, control_planes: Mapping[str, Optional[str]],
                     kubelets: Mapping[str, Optional[str]]) -> List[str]:
    """upgrade.yml: the target must be the running release, a newer patch, or the next minor
    release, and every kubelet must stay within the skew the target allows."""
    wanted = _release(target)
    if not wanted:
        return ["cluster_kubernetes_version %r is not a release such as 1.36.4." % (target,)]
    running = running_release(control_planes)
    if not running:
        return ["upgrade.yml found no running cluster: kube-apiserver is not installed on %s. Build the cluster "
                "with site.yml." % (", ".join(sorted(control_planes)) or "any host of kube_control_plane")]
    problems = []
    newest_host, newest = max(running.items(), key=lambda item: item[1])
    oldest_host, oldest = min(running.items(), key=lambda item: item[1])
    if wanted < newest:
        problems.append("cluster_kubernetes_version %s is older than the release kube-apiserver runs on %s (%s): "
                        "a downgrade is not supported. Restore an etcd snapshot taken before the upgrade "
                        "(etcd_restore.yml) to go back." % (target, newest_host, _text(newest)))
    if wanted[:2] > (oldest[0], oldest[1] + 1):
        problems.append("cluster_kubernetes_version %s skips a minor release: kube-apiserver runs %s on %s. Upgrade "
                        "one minor release at a time: run upgrade.yml with %s." % (
                            target, _text(oldest), oldest_host, _steps(oldest, wanted)))
    skew = KUBELET_SKEW if wanted[:2] >= (1, 28) else KUBELET_SKEW_BEFORE_1_28
    for node, value in sorted(kubelets.items()):
        release = _release(value)
        if not release:
            continue
        if release > wanted:
            problems.append("the kubelet of node %s runs %s, newer than cluster_kubernetes_version %s: a kubelet "
                            "must not be newer than kube-apiserver." % (node, _text(release), target))
        elif wanted[1] - release[1] > skew:
            problems.append("the kubelet of node %s runs %s, more than %d minor releases older than %s while the "
                            "control planes are upgraded first: bring the nodes to %d.%d or newer before (upgrade.yml "
                            "with the control planes' release, or remove_node.yml and site.yml --limit)."
                            % (node, _text(release), skew, _minor(wanted), wanted[0], wanted[1] - skew))
    return problems
