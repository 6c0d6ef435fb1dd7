

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
