"""The release a running cluster may change to: site.yml keeps it, upgrade.yml moves it by the skew policy."""

from ansible_collections.corral.cluster.plugins.module_utils.upgrade import site_problems, upgrade_problems

CP = {"node1": "Kubernetes v1.35.8", "node2": "Kubernetes v1.35.8"}


def test_site_yml_keeps_the_running_release_and_names_upgrade_yml():
    assert site_problems("1.35.8", CP) == []
    # A fresh cluster (nothing installed yet) and a new control plane beside running ones.
    assert site_problems("1.36.4", {"node1": None}) == []
    assert site_problems("1.35.8", {"node1": "Kubernetes v1.35.8", "node3": None}) == []
    (problem,) = site_problems("1.36.4", CP)
    assert "kube-apiserver runs another release on node1 (1.35.8), node2 (1.35.8)" in problem
    assert "run upgrade.yml with cluster_kubernetes_version 1.36.4" in problem
    assert "set cluster_kubernetes_version: 1.35.8 to keep the running release" in problem
    # A patch is a change of release too.
    assert site_problems("1.35.7", CP)


def test_the_next_minor_or_a_patch_is_an_upgrade():
    assert upgrade_problems("1.36.4", CP, {"node1": "v1.35.8", "node3": "v1.35.8"}) == []
    assert upgrade_problems("1.35.9", CP, {"node3": "v1.35.8"}) == []
    # The same release: nothing to do, nothing refused (an interrupted upgrade is finished this way).
    assert upgrade_problems("1.35.8", CP, {"node3": "v1.35.8"}) == []
    assert upgrade_problems("1.36.4", {"node1": "Kubernetes v1.36.4", "node2": "Kubernetes v1.35.8"},
                            {"node3": "v1.35.8"}) == []


def test_skipping_a_minor_is_refused_naming_the_steps():
    (problem,) = upgrade_problems("1.36.4", {"node1": "Kubernetes v1.34.2"}, {})
    assert "skips a minor release: kube-apiserver runs 1.34.2 on node1" in problem
    assert "run upgrade.yml with 1.35.x, then 1.36.4" in problem
    (problem,) = upgrade_problems("1.36.4", {"node1": "Kubernetes v1.33.1"}, {})
    assert "1.34.x, then 1.35.x, then 1.36.4" in problem


def test_a_downgrade_is_refused():
    (problem,) = upgrade_problems("1.35.7", CP, {})
    assert "older than the release kube-apiserver runs on node1 (1.35.8): a downgrade is not supported" in problem


def test_kubelets_newer_than_the_target_or_too_old_for_it_are_refused():
    (newer,) = upgrade_problems("1.35.9", CP, {"node3": "v1.36.0"})
    assert "the kubelet of node node3 runs 1.36.0, newer than cluster_kubernetes_version 1.35.9" in newer
    (old,) = upgrade_problems("1.36.4", CP, {"node3": "v1.32.5", "node4": "v1.33.0"})
    assert "node node3 runs 1.32.5, more than 3 minor releases older than 1.36" in old
    assert "bring the nodes to 1.33 or newer" in old
    # Before 1.28 the skew was two minor releases.
    assert upgrade_problems("1.22.1", {"node1": "Kubernetes v1.21.3"}, {"node3": "v1.19.0"})


def test_no_running_cluster_or_a_bad_target_is_refused():
    (problem,) = upgrade_problems("1.36.4", {"node1": None}, {})
    assert "found no running cluster: kube-apiserver is not installed on node1. Build the cluster with site.yml" in problem
    (problem,) = upgrade_problems("latest", CP, {})
    assert "'latest' is not a release" in problem
