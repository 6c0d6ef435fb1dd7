"""The lab's offline mirror, built by `tools/lab artifacts` in two sets (tools/lab_artifacts.py).

Run after the build (tools/test does): every file matches its recorded sha256, each binary
reports the release its set says (the version ldflags of the Go builds, the Debian packages'
versions), the tarballs have the upstream layout, and the images load into a Docker engine.
"""

import hashlib
import json
import os
import subprocess
import tarfile
import tempfile
from pathlib import Path

import pytest

MIRROR = Path(os.environ.get("CORRAL_LAB_CACHE", Path.home() / ".cache" / "corral-lab")) / "artifacts"
MANIFEST = json.loads((MIRROR / "artifacts.json").read_text()) if (MIRROR / "artifacts.json").exists() else {}
SETS = MANIFEST.get("sets", {})
ENTRIES = [(set_name, name) for set_name, entries in sorted(SETS.items()) for name in sorted(entries)]

pytestmark = pytest.mark.skipif(not SETS, reason="run `tools/lab artifacts` first")


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def output(*argv):
    result = subprocess.run([str(arg) for arg in argv], capture_output=True, text=True, check=False)
    return result.stdout + result.stderr


def members(entry):
    with tarfile.open(MIRROR / entry["path"]) as tar:
        return {name.removeprefix("./") for name in tar.getnames()}


def extracted(entry, member):
    """One member of a tarball of the mirror, extracted into a temporary directory."""
    tmp = Path(tempfile.mkdtemp(prefix="corral-lab-test-"))
    with tarfile.open(MIRROR / entry["path"]) as tar:
        name = next(n for n in tar.getnames() if n.removeprefix("./") == member)
        tar.extract(name, tmp, filter="data")
    return tmp / name


@pytest.mark.parametrize("set_name, name", ENTRIES)
def test_every_artifact_matches_its_recorded_sum(set_name, name):
    entry = SETS[set_name][name]
    assert sha256(MIRROR / entry["path"]) == entry["sha256"]


def test_sha256sums_file_verifies_with_sha256sum():
    result = subprocess.run(["sha256sum", "--strict", "-c", "SHA256SUMS"], cwd=MIRROR, capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count(": OK") == len({entry["path"] for entries in SETS.values() for entry in entries.values()})


@pytest.mark.parametrize("set_name", sorted(SETS))
@pytest.mark.parametrize("binary", ["kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet",
                                    "kube-proxy"])
def test_kubernetes_server_binaries_report_their_release_and_have_published_sums(set_name, binary):
    entry = SETS[set_name][binary]
    path = MIRROR / entry["path"]
    assert path.with_name(f"{binary}.sha256").read_text().strip() == sha256(path)
    assert f"Kubernetes v{entry['version']}" in output(path, "--version")


@pytest.mark.parametrize("set_name", sorted(SETS))
def test_kubectl_reports_its_release(set_name):
    entry = SETS[set_name]["kubectl"]
    assert f"v{entry['version']}" in output(MIRROR / entry["path"], "version", "--client")


@pytest.mark.parametrize("set_name", sorted(SETS))
def test_etcd_tarball_has_the_upstream_layout_and_reports_its_release(set_name):
    entry = SETS[set_name]["etcd"]
    top = f"etcd-v{entry['version']}-linux-amd64"
    assert {f"{top}/etcd", f"{top}/etcdctl"} <= members(entry)
    assert f"etcd Version: {entry['version']}" in output(extracted(entry, f"{top}/etcd"), "--version")


@pytest.mark.parametrize("set_name", sorted(SETS))
def test_cni_tarball_has_bridge_host_local_loopback_and_portmap_at_its_top(set_name):
    entry = SETS[set_name]["cni_plugins"]
    assert {"bridge", "host-local", "loopback", "portmap"} <= members(entry)
    if set_name != "1.20":  # Debian's build stamps no version
        assert f"v{entry['version']}" in output(extracted(entry, "bridge"), "--version")


@pytest.mark.parametrize("set_name", sorted(SETS))
def test_containerd_tarball_has_the_upstream_layout_and_runc_reports_its_release(set_name):
    entry = SETS[set_name]["containerd"]
    assert {"bin/containerd", "bin/containerd-shim-runc-v2", "bin/ctr"} <= members(entry)
    assert entry["version"] in output(extracted(entry, "bin/containerd"), "--version")
    runc = SETS[set_name]["runc"]
    assert f"runc version {runc['version']}" in output(MIRROR / runc["path"], "--version")


def test_the_current_runc_is_static_with_seccomp():
    runc = MIRROR / SETS["1.36"]["runc"]["path"]
    assert "statically linked" in output("file", "-L", runc) or "not a dynamic executable" in output("ldd", runc)
    assert "libseccomp" in output(runc, "--version")


def test_the_current_set_has_crictl_and_cri_dockerd_of_their_releases():
    crictl = SETS["1.36"]["crictl"]
    assert "crictl" in members(crictl)
    assert crictl["version"] in output(extracted(crictl, "crictl"), "--version")
    cri_dockerd = SETS["1.36"]["cri_dockerd"]
    assert "cri-dockerd/cri-dockerd" in members(cri_dockerd)
    assert cri_dockerd["version"] in output(extracted(cri_dockerd, "cri-dockerd/cri-dockerd"), "--version")


@pytest.mark.parametrize("set_name", sorted(SETS))
def test_docker_static_tarball_has_the_upstream_layout(set_name):
    assert {f"docker/{binary}" for binary in ("docker", "dockerd", "docker-init", "docker-proxy", "containerd",
                                              "containerd-shim-runc-v2", "ctr", "runc")} <= members(
        SETS[set_name]["docker_static"])


@pytest.mark.parametrize("set_name", sorted(SETS))
@pytest.mark.parametrize("image", ["pause_image", "busybox_image"])
def test_images_load_into_docker_under_their_upstream_names(set_name, image):
    entry = SETS[set_name][image]
    result = subprocess.run(["docker", "load", "-i", str(MIRROR / entry["path"])], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert f"Loaded image: {entry['image']}" in result.stdout
