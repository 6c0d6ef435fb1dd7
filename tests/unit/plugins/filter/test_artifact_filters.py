"""The artifact files a host needs, as distribute_files entries."""

from ansible_collections.corral.cluster.plugins.filter.artifacts import artifact_destination, artifact_files
from ansible_collections.corral.cluster.plugins.module_utils.distribute import plan_entries, wanted_digests

CATALOG = {"kubernetes-node": {"dest": "/usr/local/bin"}, "cni-plugins": {"dest": "/opt/cni/bin"}}
ITEMS = [{"artifact": "kubernetes-node", "name": "kubelet", "src": "/cache/kubelet", "sha256": "sha256:AB12"},
         {"artifact": "cni-plugins", "name": "bridge", "src": "/cache/cni/bridge", "sha256": "cd34"}]


def test_each_file_goes_to_its_artifact_directory_0755_with_its_verified_sum():
    assert artifact_destination(ITEMS[0], CATALOG) == {"path": "/usr/local/bin/kubelet", "sha256": "sha256:AB12"}
    assert artifact_files(ITEMS, CATALOG) == [
        {"src": "/cache/kubelet", "dest": "/usr/local/bin/kubelet", "sha256": "sha256:AB12", "mode": "0755"},
        {"src": "/cache/cni/bridge", "dest": "/opt/cni/bin/bridge", "sha256": "cd34", "mode": "0755"}]


def test_a_known_sum_is_compared_as_given_and_the_controller_file_is_not_read():
    read = []
    wanted, missing = wanted_digests(plan_entries(artifact_files(ITEMS, CATALOG)), read.append)
    assert read == [] and missing == []
    assert [item["sha256"] for item in wanted] == ["ab12", "cd34"]
