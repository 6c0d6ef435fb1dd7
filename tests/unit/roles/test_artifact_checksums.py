"""The artifacts role's table of upstream sums (files/checksums.yml, written by
tools/import_checksums.py): every release the collection supports, and every default, downloads
without the user pasting a sum."""

from pathlib import Path

import pytest
import yaml

from ansible_collections.corral.cluster.plugins.module_utils import preflight

ROLE = Path(__file__).resolve().parents[3] / "roles" / "artifacts"
TABLE = yaml.safe_load((ROLE / "files" / "checksums.yml").read_text())
CATALOG = yaml.safe_load((ROLE / "vars" / "main" / "catalog.yml").read_text())["__artifacts_catalog"]
DEFAULTS = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
CLUSTER_DEFAULTS = yaml.safe_load((ROLE.parent / "cluster" / "defaults" / "main.yml").read_text())


def test_every_pinned_name_is_a_catalog_entry_with_pinned_sums():
    for name in TABLE:
        assert CATALOG[name]["sha256"] == "pinned", name
    # And every pinned catalog entry but the Docker static tarball has a table.
    assert {name for name, entry in CATALOG.items() if entry["sha256"] == "pinned"} - set(TABLE) == {"docker_static"}


@pytest.mark.parametrize("name", sorted(TABLE))
def test_sums_are_sha256_for_both_architectures(name):
    assert set(TABLE[name]) == {"amd64", "arm64"}
    for arch, versions in TABLE[name].items():
        assert versions, (name, arch)
        for version, digest in versions.items():
            assert isinstance(version, str) and digest.startswith("sha256:") and len(digest) == 71, (name, version)


@pytest.mark.parametrize("minor", list(preflight.KUBERNETES_MINORS))
def test_every_supported_kubernetes_minor_has_kubelet_and_kubectl_sums(minor):
    for name in ("kubelet", "kubectl"):
        for arch in ("amd64", "arm64"):
            assert any(version.startswith(f"1.{minor}.") for version in TABLE[name][arch]), (name, arch, minor)


def test_the_default_releases_have_their_sums():
    version = CLUSTER_DEFAULTS["cluster_kubernetes_version"]
    for name in ("kubelet", "kubectl"):
        assert version in TABLE[name]["amd64"] and version in TABLE[name]["arm64"]
    for name in ("etcd", "cni_plugins", "containerd", "runc", "crictl", "cri_dockerd", "calicoctl", "helm",
                 "nerdctl"):
        default = DEFAULTS[f"artifacts_{name}_version"]
        assert default in TABLE[name]["amd64"] and default in TABLE[name]["arm64"], (name, default)


def test_the_default_kubernetes_release_is_the_newest_supported_minor():
    assert CLUSTER_DEFAULTS["cluster_kubernetes_version"].startswith(f"1.{preflight.KUBERNETES_MINORS[-1]}.")
