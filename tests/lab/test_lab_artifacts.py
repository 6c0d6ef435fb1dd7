"""The lab's offline mirror, built from Debian's packages by `tools/lab artifacts`.

Run after the build (tools/test does): every file matches its recorded sha256, the binaries
are the versions the lab deploys, and the images load into a Docker engine.
"""

import hashlib
import json
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

MIRROR = Path(os.environ.get("CORRAL_LAB_CACHE", Path.home() / ".cache" / "corral-lab")) / "artifacts"
MANIFEST = json.loads((MIRROR / "artifacts.json").read_text()) if (MIRROR / "artifacts.json").exists() else {}
RELEASE = MIRROR / "dl.k8s.io/release/v1.20.2/bin/linux/amd64"

pytestmark = pytest.mark.skipif(not MANIFEST, reason="run `tools/lab artifacts` first")


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_every_artifact_matches_its_recorded_sum(name):
    entry = MANIFEST[name]
    assert sha256(MIRROR / entry["path"]) == entry["sha256"]


def test_sha256sums_file_verifies_with_sha256sum():
    result = subprocess.run(["sha256sum", "--strict", "-c", "SHA256SUMS"], cwd=MIRROR,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count(": OK") == len(MANIFEST)


@pytest.mark.parametrize("binary", ["kube-apiserver", "kube-controller-manager", "kube-scheduler",
                                    "kubelet", "kube-proxy"])
def test_kubernetes_server_binaries_are_v1_20_2_with_published_sums(binary):
    path = RELEASE / binary
    assert (RELEASE / f"{binary}.sha256").read_text().strip() == sha256(path)
    assert "v1.20.2" in subprocess.run([str(path), "--version"], capture_output=True, text=True).stdout


def test_kubectl_is_v1_20_2():
    out = subprocess.run([str(RELEASE / "kubectl"), "version", "--client", "--short"],
                         capture_output=True, text=True).stdout
    assert "v1.20.2" in out


def test_etcd_tarball_has_the_upstream_layout():
    entry = MANIFEST["etcd"]
    with tarfile.open(MIRROR / entry["path"]) as tar:
        names = set(tar.getnames())
    top = f"etcd-v{entry['version']}-linux-amd64"
    assert {f"{top}/etcd", f"{top}/etcdctl"} <= names


def test_cni_tarball_has_bridge_host_local_and_loopback_at_its_top():
    with tarfile.open(MIRROR / MANIFEST["cni_plugins"]["path"]) as tar:
        names = {name.lstrip("./") for name in tar.getnames()}
    assert {"bridge", "host-local", "loopback", "portmap"} <= names


@pytest.mark.parametrize("image", ["pause_image", "busybox_image"])
def test_images_load_into_docker_under_their_upstream_names(image):
    entry = MANIFEST[image]
    result = subprocess.run(["docker", "load", "-i", str(MIRROR / entry["path"])],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert entry["image"].removeprefix("docker.io/library/") in result.stdout


def test_containerd_tarball_has_the_upstream_layout_and_runc_is_a_binary():
    with tarfile.open(MIRROR / MANIFEST["containerd"]["path"]) as tar:
        names = {name.lstrip("./") for name in tar.getnames()}
    assert {"bin/containerd", "bin/containerd-shim-runc-v2", "bin/ctr"} <= names
    version = subprocess.run([str(MIRROR / MANIFEST["runc"]["path"]), "--version"],
                             capture_output=True, text=True).stdout
    assert MANIFEST["runc"]["version"] in version


def test_docker_static_tarball_has_the_upstream_layout():
    with tarfile.open(MIRROR / MANIFEST["docker_static"]["path"]) as tar:
        names = set(tar.getnames())
    assert {f"docker/{binary}" for binary in ("docker", "dockerd", "docker-init", "docker-proxy",
                                              "containerd", "containerd-shim-runc-v2", "ctr", "runc")} <= names
