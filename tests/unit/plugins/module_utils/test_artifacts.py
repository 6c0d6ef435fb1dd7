"""Unit tests of module_utils/artifacts.py and of the role's catalog (roles/artifacts/vars/main/)."""

from __future__ import annotations

import hashlib
import http.server
import io
import re
import tarfile
import threading
from pathlib import Path

import pytest
import yaml

from ansible_collections.corral.cluster.plugins.module_utils import artifacts as lib

ROLE = Path(__file__).resolve().parents[4] / "roles" / "artifacts"
CATALOG = yaml.safe_load((ROLE / "vars" / "main" / "catalog.yml").read_text())["__artifacts_catalog"]
PINNED = yaml.safe_load((ROLE / "files" / "checksums.yml").read_text())
DEFAULTS = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
KUBERNETES_VERSION = yaml.safe_load((ROLE.parent / "cluster" / "defaults" / "main.yml").read_text())[
    "cluster_kubernetes_version"
]
KUBELET_URL = "https://dl.k8s.io/release/v{version}/bin/linux/{arch}/kubelet"
ETCD_URL = "https://github.com/etcd-io/etcd/releases/download/v{version}/etcd-v{version}-linux-{arch}.tar.gz"


def default_version(name: str) -> str:
    """The version a catalog entry resolves to with the role's defaults."""
    template = CATALOG[name]["version"]
    variable = template.strip("{} ")
    return KUBERNETES_VERSION if variable == "cluster_kubernetes_version" else DEFAULTS[variable]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def mirror_file(root: Path, url: str, data: bytes) -> Path:
    path = root / lib.relative_path(url)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def binary(data: bytes = b"kubelet-binary", sha256: str | None = None, version: str = "1.20.2") -> lib.Artifact:
    url = lib.render_url(KUBELET_URL, version, "amd64")
    return lib.Artifact(name="kubelet", version=version, arch="amd64", url=url, sha256=sha256 or sha(data))


def tarball_bytes(files: dict) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


# --- the catalog ---------------------------------------------------------------------------

# download.docker.com publishes no sums and none are pinned: artifacts_checksums gives them.
USER_SUMMED = {"docker_static"}


@pytest.mark.parametrize("arch", ["amd64", "arm64"])
@pytest.mark.parametrize("name", sorted(CATALOG))
def test_every_catalog_entry_has_a_sum_for_its_default_version(name: str, arch: str) -> None:
    entry = CATALOG[name]
    if entry["sha256"] == lib.PUBLISHED:
        return
    if name in USER_SUMMED:
        assert name not in PINNED  # the user gives the sum; the fetch refuses without one
        return
    assert entry["sha256"] == lib.PINNED
    assert lib.normalize_sha256(PINNED[name][arch][default_version(name)])


def test_the_kubernetes_control_plane_binaries_use_published_sums() -> None:
    # And the flannel CNI plugin, whose release publishes <tarball>.sha256.
    published = {name for name, entry in CATALOG.items() if entry["sha256"] == lib.PUBLISHED}
    assert published == {"kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy",
                         "flannel_cni_plugin"}


def test_every_enabled_default_is_in_the_catalog() -> None:
    # The default is a template: the names it may list are the quoted items of its lists.
    names = set(re.findall(r"'([\w-]+)'(?=\s*[,\]])", DEFAULTS["artifacts_enabled"]))
    assert names <= set(CATALOG)
    assert {"containerd", "runc", "crictl", "cri_dockerd"} <= names
    assert {"calicoctl", "helm", "nerdctl", "docker_static"} <= set(CATALOG) - names


def test_runtime_artifacts_go_to_the_hosts_of_their_runtime_only() -> None:
    # Pseudo groups of artifacts_host_groups: a cluster may mix containerd and Docker nodes.
    for name in ("containerd", "runc"):
        assert CATALOG[name]["groups"] == ["containerd_runtime"]
    assert CATALOG["cri_dockerd"]["groups"] == ["cri_dockerd_runtime"]
    assert "containerd_runtime" in DEFAULTS["artifacts_host_groups"]
    assert "cri_dockerd_runtime" in DEFAULTS["artifacts_host_groups"]


@pytest.mark.parametrize("arch", ["amd64", "arm64"])
def test_url_templates_render(arch: str) -> None:
    urls = {name: lib.render_url(entry["url"], default_version(name), arch) for name, entry in CATALOG.items()}
    assert urls["kube-apiserver"] == f"https://dl.k8s.io/release/v{KUBERNETES_VERSION}/bin/linux/{arch}/kube-apiserver"
    assert urls["etcd"].endswith(f"/v3.6.14/etcd-v3.6.14-linux-{arch}.tar.gz")
    assert urls["cni_plugins"].endswith(f"/v1.9.1/cni-plugins-linux-{arch}-v1.9.1.tgz")
    # The flannel CNI plugin's tag has a -flannelN suffix, its tarball's name not.
    assert urls["flannel_cni_plugin"] == ("https://github.com/flannel-io/cni-plugin/releases/download/v1.9.1-flannel3/"
                                          f"cni-plugin-flannel-linux-{arch}-v1.9.1.tgz")
    assert urls["flanneld"] == f"https://github.com/flannel-io/flannel/releases/download/v0.27.4/flanneld-{arch}"
    assert all("{" not in url and url.startswith("https://") for url in urls.values())


def test_mirror_url_keeps_the_upstream_host_and_path() -> None:
    url = lib.render_url(KUBELET_URL, "1.20.2", "amd64")
    assert lib.source_url(url, "https://mirror.example.com/k8s/") == (
        "https://mirror.example.com/k8s/dl.k8s.io/release/v1.20.2/bin/linux/amd64/kubelet"
    )
    assert lib.source_url(url, "") == url
    assert lib.cache_path("/c", url) == "/c/dl.k8s.io/release/v1.20.2/bin/linux/amd64/kubelet"


@pytest.mark.parametrize("mirror", ["ftp://mirror.example.com", "mirror.example.com/k8s", "https://"])
def test_bad_mirror_urls_are_refused(mirror: str) -> None:
    with pytest.raises(lib.ArtifactError, match="not an http://, https:// or file:// URL"):
        lib.check_mirror_url(mirror)


# --- sums and the plan ---------------------------------------------------------------------


def test_override_wins_over_the_pinned_table_and_may_be_per_arch() -> None:
    entry = {"version": "3.6.14", "url": ETCD_URL, "sha256": "pinned"}
    assert lib.expected_sha256("etcd", entry, "amd64", PINNED, {"etcd": {"3.6.14": "sha256:" + "a" * 64}}) == "a" * 64
    per_arch = {"etcd": {"3.6.14": {"arm64": "b" * 64}}}
    assert lib.expected_sha256("etcd", entry, "arm64", PINNED, per_arch) == "b" * 64
    assert lib.expected_sha256("etcd", entry, "amd64", PINNED, per_arch) == PINNED["etcd"]["amd64"]["3.6.14"][7:]


def test_unknown_version_names_the_setting_and_the_url() -> None:
    entry = {"version": "3.4.23", "url": ETCD_URL, "sha256": "pinned"}
    with pytest.raises(lib.ArtifactError) as info:
        lib.expected_sha256("etcd", entry, "amd64", PINNED, {})
    assert "artifacts_checksums.etcd.3.4.23" in str(info.value)
    assert "etcd-v3.4.23-linux-amd64.tar.gz" in str(info.value)


def test_bad_override_is_refused_by_name() -> None:
    entry = {"version": "3.6.14", "url": ETCD_URL, "sha256": "pinned"}
    with pytest.raises(lib.ArtifactError, match="artifacts_checksums.etcd.3.6.14: 'md5:12' is not a sha256 sum"):
        lib.expected_sha256("etcd", entry, "amd64", PINNED, {"etcd": {"3.6.14": "md5:12"}})


def test_plan_gives_each_host_the_artifacts_of_its_groups_and_reports_every_problem() -> None:
    catalog = {
        "etcd": {"version": "3.6.14", "url": ETCD_URL, "sha256": "pinned", "kind": "tarball", "groups": ["etcd"]},
        "kubelet": {"version": KUBERNETES_VERSION, "url": KUBELET_URL, "sha256": "pinned", "groups": ["k8s_cluster"]},
    }
    hosts = {
        "cp": {"arch": "amd64", "groups": ["etcd", "kube_control_plane", "k8s_cluster"]},
        "arm": {"arch": "arm64", "groups": ["kube_node", "k8s_cluster"]},
    }
    wanted, needs = lib.plan(catalog, hosts, PINNED, {})
    assert needs == {"cp": ["etcd", "kubelet"], "arm": ["kubelet"]}
    assert [artifact.label for artifact in wanted] == [
        "etcd 3.6.14 (amd64)",
        f"kubelet {KUBERNETES_VERSION} (amd64)",
        f"kubelet {KUBERNETES_VERSION} (arm64)",
    ]
    catalog["etcd"]["version"] = catalog["kubelet"]["version"] = "0.0.1"
    with pytest.raises(lib.ArtifactError) as info:
        lib.plan(catalog, hosts, PINNED, {})
    assert str(info.value).count("No sha256 is known") == 3


# --- fetching ------------------------------------------------------------------------------


def test_fetch_from_a_file_mirror_then_from_the_cache(tmp_path: Path) -> None:
    artifact = binary()
    mirror_file(tmp_path / "mirror", artifact.url, b"kubelet-binary")
    mirror = (tmp_path / "mirror").as_uri()
    first = lib.fetch(artifact, str(tmp_path / "cache"), mirror)
    assert first.downloaded and Path(first.path).read_bytes() == b"kubelet-binary"
    assert first.files == [{"name": "kubelet", "src": first.path, "sha256": sha(b"kubelet-binary")}]
    (tmp_path / "mirror" / lib.relative_path(artifact.url)).unlink()  # the cache alone must do now
    second = lib.fetch(artifact, str(tmp_path / "cache"), mirror)
    assert not second.downloaded and second.sha256 == artifact.sha256


def test_published_sum_is_read_from_the_sha256_file_and_cached(tmp_path: Path) -> None:
    artifact = binary(sha256=lib.PUBLISHED)
    mirror_file(tmp_path / "mirror", artifact.url, b"kubelet-binary")
    mirror_file(tmp_path / "mirror", artifact.url + ".sha256", f"{sha(b'kubelet-binary')}  kubelet\n".encode())
    result = lib.fetch(artifact, str(tmp_path / "cache"), (tmp_path / "mirror").as_uri())
    assert result.downloaded and result.sha256 == sha(b"kubelet-binary")
    assert Path(result.path + ".sha256").read_text().strip() == sha(b"kubelet-binary")


def test_mismatch_names_both_sums_and_the_fix_and_leaves_no_file(tmp_path: Path) -> None:
    artifact = binary(sha256="0" * 64)
    mirror_file(tmp_path / "mirror", artifact.url, b"kubelet-binary")
    with pytest.raises(lib.ArtifactError) as info:
        lib.fetch(artifact, str(tmp_path / "cache"), (tmp_path / "mirror").as_uri())
    message = str(info.value)
    assert "0" * 64 in message and sha(b"kubelet-binary") in message
    assert "artifacts_checksums.kubelet.1.20.2" in message
    assert [path for path in (tmp_path / "cache").rglob("*") if path.is_file()] == []


def test_a_corrupt_cached_file_is_downloaded_again(tmp_path: Path) -> None:
    artifact = binary()
    mirror_file(tmp_path / "mirror", artifact.url, b"kubelet-binary")
    mirror_file(tmp_path / "cache", artifact.url, b"truncat")
    result = lib.fetch(artifact, str(tmp_path / "cache"), (tmp_path / "mirror").as_uri())
    assert result.downloaded and Path(result.path).read_bytes() == b"kubelet-binary"


def test_offline_with_an_empty_cache_names_the_path(tmp_path: Path) -> None:
    artifact = binary()
    with pytest.raises(lib.ArtifactError) as info:
        lib.fetch(artifact, str(tmp_path / "cache"), offline=True)
    expected_path = tmp_path / "cache" / "dl.k8s.io/release/v1.20.2/bin/linux/amd64/kubelet"
    assert f"{expected_path} is missing" in str(info.value) and artifact.url in str(info.value)


def test_offline_uses_a_prefilled_cache(tmp_path: Path) -> None:
    artifact = binary()
    mirror_file(tmp_path / "cache", artifact.url, b"kubelet-binary")
    assert not lib.fetch(artifact, str(tmp_path / "cache"), offline=True).downloaded


def test_missing_file_on_a_file_mirror_says_where_to_put_it(tmp_path: Path) -> None:
    artifact = binary()
    (tmp_path / "mirror").mkdir()
    with pytest.raises(lib.ArtifactError) as info:
        lib.fetch(artifact, str(tmp_path / "cache"), (tmp_path / "mirror").as_uri(), offline=True)
    assert "cannot fetch file://" in str(info.value) and "Put the upstream file" in str(info.value)


def test_check_mode_downloads_nothing_but_reports_pending(tmp_path: Path) -> None:
    artifact = binary()
    mirror_file(tmp_path / "mirror", artifact.url, b"kubelet-binary")
    result = lib.fetch(artifact, str(tmp_path / "cache"), (tmp_path / "mirror").as_uri(), write=False)
    assert result.pending and not result.downloaded and result.files == []
    assert not (tmp_path / "cache").exists()


def test_check_mode_still_fails_on_a_missing_file(tmp_path: Path) -> None:
    (tmp_path / "mirror").mkdir()
    with pytest.raises(lib.ArtifactError, match="cannot fetch"):
        lib.fetch(binary(), str(tmp_path / "cache"), (tmp_path / "mirror").as_uri(), write=False)


def tarball_artifact(data: bytes, version: str = "3.4.23") -> lib.Artifact:
    return lib.Artifact(
        name="etcd",
        version=version,
        arch="amd64",
        url=lib.render_url(ETCD_URL, version, "amd64"),
        sha256=sha(data),
        kind="tarball",
        members=("etcd", "etcdctl"),
        optional_members=("etcdutl",),
    )


def test_tarball_members_are_extracted_flat_once(tmp_path: Path) -> None:
    data = tarball_bytes({"etcd-v3.4.23/etcd": b"e", "etcd-v3.4.23/etcdctl": b"c", "etcd-v3.4.23/README.md": b"r"})
    artifact = tarball_artifact(data)
    mirror_file(tmp_path / "mirror", artifact.url, data)
    first = lib.fetch(artifact, str(tmp_path / "cache"), (tmp_path / "mirror").as_uri())
    assert first.extracted and [file["name"] for file in first.files] == ["etcd", "etcdctl"]
    assert Path(first.files[0]["src"]).read_bytes() == b"e"
    second = lib.fetch(artifact, str(tmp_path / "cache"), (tmp_path / "mirror").as_uri())
    assert not second.downloaded and not second.extracted and second.files == first.files


def test_tarball_without_a_required_member_is_refused(tmp_path: Path) -> None:
    data = tarball_bytes({"etcd-v3.4.23/etcd": b"e"})
    artifact = tarball_artifact(data)
    mirror_file(tmp_path / "mirror", artifact.url, data)
    with pytest.raises(lib.ArtifactError, match="holds no file matching etcdctl"):
        lib.fetch(artifact, str(tmp_path / "cache"), (tmp_path / "mirror").as_uri())


class _NotFound(http.server.SimpleHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the http.server name
        self.send_error(404)

    def log_message(self, *_: object) -> None:
        """Keep the test output quiet."""


@pytest.fixture
def http_404():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotFound)
    server.timeout = 5
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/mirror"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_http_404_gives_the_clear_message(tmp_path: Path, http_404: str) -> None:
    artifact = binary()
    with pytest.raises(lib.ArtifactError) as info:
        lib.fetch(artifact, str(tmp_path / "cache"), http_404)
    message = str(info.value)
    assert f"cannot fetch {http_404}/dl.k8s.io/release/v1.20.2/bin/linux/amd64/kubelet" in message
    assert "Not Found" in message and "kubelet 1.20.2 (amd64)" in message
    assert not any(path.is_file() for path in (tmp_path / "cache").rglob("*"))
