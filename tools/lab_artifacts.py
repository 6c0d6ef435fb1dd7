"""Cluster artifacts for the lab, in the upstream layout of an offline mirror, in two sets.

The lab reaches Debian's archive and the Go module proxy, and no release download site or
image registry. So it builds what a cluster needs and lays it out as an offline mirror of the
upstream sites would be (<mirror>/<upstream host>/<upstream path>):

- set "1.36" (current, the default): Kubernetes v1.36.4, containerd 2, runc, crictl, etcd 3.6,
  the CNI plugins and cri-dockerd, each compiled from its own Go module (tools/lab_gobuild.py),
  and the pause image from the Kubernetes module's own pause.c;
- set "1.35" (the previous minor release, what the upgrade test starts from): Kubernetes v1.35.8
  and an earlier patch release of etcd, v3.6.14, from their Go modules, with every other artifact of
  set "1.36" (an upgrade changes Kubernetes and etcd, member by member);
- set "1.20" (the seeds' era: Rancher 2.5, dockershim): Kubernetes v1.20.2 compiled from
  Debian's `kubernetes` source package (the full upstream tree with vendor/), etcd, containerd,
  runc and the CNI plugins from Debian's binary packages.

Both sets share crictl, the busybox workload image and the Docker static tarball (from Debian's
docker.io), and have the pod network and cluster DNS of tools/lab_network.py: flanneld and the
flannel CNI plugin, and the CoreDNS image of the release the coredns role picks for the set's
Kubernetes. artifacts.json holds, per set, each artifact's version, path and sha256;
SHA256SUMS every file of the mirror. Every build is cached (the Go builds by recipe, the 1.20
build by the source tarball's sum): a warm run only re-publishes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

import yaml

from lab_common import (CACHE, LAB_REGISTRY, MIRROR, ROOT, debian_mirror, download, ensure_packages, image_archive,
                        locked, log, reproducible_tar, run, sha256)
from lab_gobuild import GoBuild, source_file
from lab_gobuild import build as go_build
from lab_network import NETWORK_PUBLISHED, network_recipes, publish_network

ARCH = "amd64"
CURRENT = "1.36"
PREVIOUS = "1.35"
# In build order: the previous set reuses the current one's artifacts.
SETS = ("1.36", "1.35", "1.20")
KUBERNETES_BINARIES = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet",
                       "kube-proxy", "kubectl")
# Every set has these entries in artifacts.json (a set without one of them is built again).
PUBLISHED = (*KUBERNETES_BINARIES, "etcd", "cni_plugins", "containerd", "runc", "crictl", "docker_static",
             "pause_image", "busybox_image", *NETWORK_PUBLISHED)
PUBLISHED_CURRENT = (*PUBLISHED, "cri_dockerd")
BUSYBOX_REPOSITORY = f"{LAB_REGISTRY}/busybox"


def release_dir(kind: str, *parts: str) -> Path:
    """Where an upstream release file lives in the mirror."""
    return MIRROR.joinpath(kind, *parts)


def entry(version: str, dest: Path, **extra: str) -> dict:
    return {"version": version, "path": str(dest.relative_to(MIRROR)), "sha256": sha256(dest), **extra}


def publish_file(source: Path, dest: Path, mode: int = 0o755) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, dest)
    dest.chmod(mode)
    return dest


def publish_kubernetes(version: str, bindir: Path) -> dict[str, dict]:
    """dl.k8s.io's layout, with the <binary>.sha256 that upstream publishes beside each binary."""
    release = MIRROR / "dl.k8s.io" / "release" / f"v{version}" / "bin" / "linux" / ARCH
    entries = {}
    for name in KUBERNETES_BINARIES:
        dest = publish_file(bindir / name, release / name)
        entries[name] = entry(version, dest)
        (release / f"{name}.sha256").write_text(entries[name]["sha256"] + "\n")
    return entries


def publish_etcd(version: str, binaries: dict[str, Path], workdir: Path) -> dict[str, dict]:
    name = f"etcd-v{version}-linux-{ARCH}"
    for binary, source in binaries.items():
        publish_file(source, workdir / name / binary)
    dest = release_dir("github.com", "etcd-io", "etcd", "releases", "download", f"v{version}", f"{name}.tar.gz")
    reproducible_tar(workdir, name, dest)
    return {"etcd": entry(version, dest)}


def publish_cni_plugins(version: str, plugins: Path) -> dict[str, dict]:
    # Upstream's tarball holds the plugins at its top level.
    dest = release_dir("github.com", "containernetworking", "plugins", "releases", "download", f"v{version}",
                       f"cni-plugins-linux-{ARCH}-v{version}.tgz")
    reproducible_tar(plugins, ".", dest)
    return {"cni_plugins": entry(version, dest)}


def publish_containerd(version: str, binaries: dict[str, Path], workdir: Path) -> dict[str, dict]:
    # Upstream's tarball holds bin/<binary>.
    staging = workdir / "containerd"
    for binary, source in binaries.items():
        publish_file(source, staging / "bin" / binary)
    dest = release_dir("github.com", "containerd", "containerd", "releases", "download", f"v{version}",
                       f"containerd-{version}-linux-{ARCH}.tar.gz")
    reproducible_tar(staging, "bin", dest)
    return {"containerd": entry(version, dest)}


def publish_runc(version: str, source: Path) -> dict[str, dict]:
    dest = publish_file(source, release_dir("github.com", "opencontainers", "runc", "releases", "download",
                                            f"v{version}", f"runc.{ARCH}"))
    return {"runc": entry(version, dest)}


# ---------------------------------------------------------------- images

def archive_holds(dest: Path, image: str) -> bool:
    """The docker archive exists and holds the image under that name (an archive of an earlier
    recipe may hold it under another)."""
    if not dest.exists():
        return False
    with tarfile.open(dest) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
    return any(image in item.get("RepoTags") or () for item in manifest)


def compile_pause(pause_c: Path, dest: Path) -> Path:
    """The pause binary from the pause.c of a Kubernetes tree, static, as upstream's image has it."""
    ensure_packages({"gcc": Path("/usr/bin/gcc"), "libc6-dev": Path("/usr/lib/x86_64-linux-gnu/libc.a")})
    dest.parent.mkdir(parents=True, exist_ok=True)
    run("gcc", "-Os", "-static", "-o", str(dest), str(pause_c))
    return dest


def publish_pause(pause: Path, image: str, workdir: Path) -> dict[str, dict]:
    """The pause image (its binary at /pause) under `image`."""
    version = image.rsplit(":", 1)[1]
    dest = MIRROR / "images" / f"pause-{version}.tar"
    if not archive_holds(dest, image):
        rootfs = workdir / f"pause-{version}"
        publish_file(pause, rootfs / "pause")
        image_archive(rootfs, image, ['ENTRYPOINT ["/pause"]'], dest)
    return {"pause_image": entry(version, dest, image=image)}


def publish_busybox(workdir: Path) -> dict[str, dict]:
    root = debian_package_tree(["busybox-static"], workdir)
    version = package_version(root, "busybox-static")
    image = f"{BUSYBOX_REPOSITORY}:{version}"
    dest = MIRROR / "images" / f"busybox-{version}.tar"
    if not archive_holds(dest, image):
        rootfs = workdir / "busybox-rootfs"
        (rootfs / "bin").mkdir(parents=True)
        shutil.copy2(root / "bin" / "busybox", rootfs / "bin" / "busybox")
        for applet in run(str(rootfs / "bin" / "busybox"), "--list", capture=True).split():
            if applet != "busybox":
                (rootfs / "bin" / applet).symlink_to("busybox")
        image_archive(rootfs, image, ['CMD ["sh"]'], dest)
    return {"busybox_image": entry(version, dest, image=image)}


def current_pause_image() -> str:
    """The pause image of the node role's default (node_sandbox_image), from the lab's registry."""
    default = yaml.safe_load((ROOT / "roles" / "node" / "defaults" / "main.yml").read_text())["node_sandbox_image"]
    return f"{LAB_REGISTRY}/pause:{default.rsplit(':', 1)[1]}"


# ---------------------------------------------------------------- Debian packages

def debian_package_tree(packages: list[str], workdir: Path) -> Path:
    """The files of Debian packages, unpacked (not installed) into workdir/root."""
    workdir.mkdir(parents=True, exist_ok=True)
    run("apt-get", "download", *packages, capture=True, cwd=workdir)
    root = workdir / "root"
    for deb in sorted(workdir.glob("*.deb")):
        run("dpkg-deb", "-x", str(deb), str(root))
    return root


def package_version(root: Path, package: str) -> str:
    """Upstream version of an unpacked package, from its control data."""
    out = run("dpkg-deb", "-f", str(next(root.parent.glob(f"{package}_*.deb"))), "Version", capture=True)
    return out.split(":")[-1].split("-")[0].split("+")[0].split("~")[0]


def debian_suite_tree(suite: str, packages: list[str], workdir: Path) -> Path:
    """The files of Debian packages of another suite than this machine's (fetched from its pool
    through the suite's package index), unpacked into workdir/root."""
    index = download(f"{debian_mirror()}/dists/{suite}/main/binary-{ARCH}/Packages.xz",
                     CACHE / "downloads" / f"debian-{suite}-Packages.xz")
    wanted, found, current = set(packages), {}, {}
    for line in run("xz", "-dc", str(index), capture=True).splitlines():
        if not line.strip():
            if current.get("Package") in wanted:
                found[current["Package"]] = current
            current = {}
        elif ": " in line and not line.startswith(" "):
            key, value = line.split(": ", 1)
            current[key] = value
    if current.get("Package") in wanted:
        found[current["Package"]] = current
    missing = wanted - set(found)
    if missing:
        raise SystemExit(f"Debian {suite} has no package {', '.join(sorted(missing))}")
    workdir.mkdir(parents=True, exist_ok=True)
    root = workdir / "root"
    for name in packages:
        deb = download(f"{debian_mirror()}/{found[name]['Filename']}",
                       CACHE / "downloads" / Path(found[name]["Filename"]).name)
        run("dpkg-deb", "-x", str(deb), str(root))
        (workdir / f"{name}.version").write_text(found[name]["Version"])
    return root


def docker_static_tarball(version: str, sources: dict[str, Path], workdir: Path) -> dict[str, dict]:
    """Docker's static tarball layout (docker/<binary>) in the mirror."""
    staging = workdir / "docker"
    for binary, source in sources.items():
        publish_file(source, staging / binary)
    dest = MIRROR / "download.docker.com" / "linux" / "static" / "stable" / "x86_64" / f"docker-{version}.tgz"
    reproducible_tar(workdir, "docker", dest)
    return {"docker_static": entry(version, dest)}


def publish_docker_static(workdir: Path) -> dict[str, dict]:
    """Docker's static tarball, from bookworm's docker.io and its dependencies. Debian's dockerd
    is not static: it links libdevmapper, so a lab node needs libdevmapper1.02.1 (upstream's
    tarball needs nothing)."""
    root = debian_package_tree(["docker.io", "containerd", "runc", "tini"], workdir)
    sources = {"docker": "usr/bin/docker", "dockerd": "usr/sbin/dockerd",
               "docker-proxy": "usr/sbin/docker-proxy", "docker-init": "usr/bin/tini-static",
               "containerd": "usr/bin/containerd", "containerd-shim": "usr/bin/containerd-shim",
               "containerd-shim-runc-v2": "usr/bin/containerd-shim-runc-v2", "ctr": "usr/bin/ctr",
               "runc": "usr/sbin/runc"}
    return docker_static_tarball(package_version(root, "docker.io"),
                                 {binary: root / source for binary, source in sources.items()}, workdir)


# Docker Engine of the current set: trixie's docker.io (Docker 26: cri-dockerd 0.4 needs the
# API 1.42 or later, which bookworm's 20.10 lacks), with trixie's containerd 1.7, the set's own
# runc (trixie's needs a newer libc than bookworm nodes have) and bookworm's static tini.
CURRENT_DOCKER_SUITE = "trixie"


def publish_current_docker_static(workdir: Path, runc: Path) -> dict[str, dict]:
    root = debian_suite_tree(CURRENT_DOCKER_SUITE, ["docker.io", "docker-cli", "containerd"], workdir / "trixie")
    tini = debian_package_tree(["tini"], workdir / "tini")
    version = (workdir / "trixie" / "docker.io.version").read_text().split(":")[-1].split("+")[0].split("-")[0]
    sources = {"docker": root / "usr/bin/docker", "dockerd": root / "usr/sbin/dockerd",
               "docker-proxy": root / "usr/sbin/docker-proxy", "docker-init": tini / "usr/bin/tini-static",
               "containerd": root / "usr/bin/containerd",
               "containerd-shim-runc-v2": root / "usr/bin/containerd-shim-runc-v2", "ctr": root / "usr/bin/ctr",
               "runc": runc}
    return docker_static_tarball(version, sources, workdir)


# ---------------------------------------------------------------- set 1.20: Debian's packages

DEBIAN_KUBERNETES_VERSION = "1.20.2"
DEBIAN_KUBERNETES_SOURCE = "pool/main/k/kubernetes/kubernetes_1.20.5+really1.20.2.orig.tar.gz"
DEBIAN_GO = Path("/usr/lib/go-1.19/bin")
# The sandbox image release Kubernetes 1.20 asks for.
DEBIAN_PAUSE_IMAGE = f"{LAB_REGISTRY}/pause:3.2"


def debian_kubernetes_build() -> Path:
    """Build (or reuse) the v1.20.2 server binaries from Debian's source package."""
    tarball = download(f"{debian_mirror()}/{DEBIAN_KUBERNETES_SOURCE}",
                       CACHE / "downloads" / Path(DEBIAN_KUBERNETES_SOURCE).name)
    built = CACHE / "kubernetes-build" / sha256(tarball)
    if (built / "done").exists():
        return built
    ensure_packages({"golang-1.19-go": DEBIAN_GO / "go", "rsync": Path("/usr/bin/rsync"),
                     "gcc": Path("/usr/bin/gcc"), "make": Path("/usr/bin/make")})
    log(f"Building Kubernetes v{DEBIAN_KUBERNETES_VERSION} from Debian's source (about 6 minutes)")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="corral-k8s-build-") as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        run("tar", "-C", str(src), "--strip-components=1", "-xzf", str(tarball))
        gopath = src / ".go"
        (gopath / "src" / "k8s.io").mkdir(parents=True)
        (gopath / "src" / "k8s.io" / "kubernetes").symlink_to("../../..")
        env = {"GOPATH": str(gopath), "CGO_ENABLED": "0", "GOPROXY": "off", "GOFLAGS": "-mod=vendor",
               "GOCACHE": str(CACHE / "go-cache")}
        what = " ".join(f"cmd/{name}" for name in KUBERNETES_BINARIES)
        subprocess.run(["make", f"WHAT={what}"], cwd=src, check=True, stdout=subprocess.DEVNULL,
                       env={**os.environ, **env, "PATH": f"{DEBIAN_GO}:{os.environ['PATH']}"})
        bindir = built / "bin"
        bindir.mkdir(parents=True, exist_ok=True)
        for name in KUBERNETES_BINARIES:
            shutil.copy2(src / "_output" / "bin" / name, bindir / name)
        compile_pause(src / "build" / "pause" / "linux" / "pause.c", bindir / "pause")
    (built / "done").write_text(f"{time.monotonic() - started:.0f}\n")
    log(f"Built Kubernetes in {time.monotonic() - started:.0f} s")
    return built


def debian_set(workdir: Path) -> dict[str, dict]:
    built = debian_kubernetes_build()
    manifest = publish_kubernetes(DEBIAN_KUBERNETES_VERSION, built / "bin")
    root = debian_package_tree(["etcd-server", "etcd-client"], workdir / "etcd")
    manifest.update(publish_etcd(package_version(root, "etcd-server"),
                                 {binary: root / "usr" / "bin" / binary for binary in ("etcd", "etcdctl", "etcdutl")
                                  if (root / "usr" / "bin" / binary).exists()}, workdir / "etcd"))
    root = debian_package_tree(["containernetworking-plugins"], workdir / "cni")
    manifest.update(publish_cni_plugins(package_version(root, "containernetworking-plugins"),
                                        root / "usr" / "lib" / "cni"))
    root = debian_package_tree(["containerd", "runc"], workdir / "containerd")
    manifest.update(publish_containerd(package_version(root, "containerd"),
                                       {binary: root / "usr" / "bin" / binary
                                        for binary in ("containerd", "containerd-shim-runc-v2", "ctr")},
                                       workdir / "containerd"))
    manifest.update(publish_runc(package_version(root, "runc"), root / "usr" / "sbin" / "runc"))
    manifest.update(publish_pause(built / "bin" / "pause", DEBIAN_PAUSE_IMAGE, workdir))
    return manifest


# ---------------------------------------------------------------- set 1.36: Go modules

KUBERNETES_VERSION = "1.36.4"
PREVIOUS_KUBERNETES_VERSION = "1.35.8"


def kubernetes_recipe(version: str) -> GoBuild:
    """The six binaries of k8s.io/kubernetes, with the version ldflags of its hack/lib/version.sh."""
    major, minor = version.split(".")[:2]
    stamp = {"gitVersion": f"v{version}", "gitMajor": major, "gitMinor": minor, "gitTreeState": "clean",
             "gitCommit": "0" * 40, "buildDate": "1970-01-01T00:00:00Z"}
    flags = ["-s", "-w"]
    for package in ("k8s.io/client-go/pkg/version", "k8s.io/component-base/version"):
        flags += [f"-X={package}.{key}={value}" for key, value in stamp.items()]
    return GoBuild(
        name="kubernetes", module="k8s.io/kubernetes", version=f"v{version}",
        binaries={name: f"cmd/{name}" for name in KUBERNETES_BINARIES},
        ldflags=tuple(flags), tags=("selinux", "notest", "grpcnotrace"),
        # Its go.mod points the k8s.io/* staging modules at ./staging/src/..., which module
        # downloads do not contain: use the published v0.MINOR.PATCH modules instead.
        local_replace_versions={"k8s.io/": f"v0.{minor}.{version.split('.')[2]}"},
    )


CONTAINERD_PACKAGE = "github.com/containerd/containerd/v2"
CONTAINERD_LDFLAGS = ("-s", "-w", f"-X={CONTAINERD_PACKAGE}/version.Version={{tag}}",
                      f"-X={CONTAINERD_PACKAGE}/version.Package=github.com/containerd/containerd")
ETCD_VERSION = "v3.6.16"
# The previous set's: the upgrade test changes etcd's release too.
PREVIOUS_ETCD_VERSION = "v3.6.14"


def etcd_recipes(version: str) -> dict[str, GoBuild]:
    """etcd's three binaries, three modules whose go.mod files point at ../api, ../server, ...: the
    published modules of the same release replace them."""
    return {"etcd": GoBuild(name="etcd", module="go.etcd.io/etcd/server/v3", version=version, binaries={"etcd": "."}),
            "etcdctl": GoBuild(name="etcdctl", module="go.etcd.io/etcd/etcdctl/v3", version=version,
                               binaries={"etcdctl": "."}),
            "etcdutl": GoBuild(name="etcdutl", module="go.etcd.io/etcd/etcdutl/v3", version=version,
                               binaries={"etcdutl": "."})}


CURRENT_RECIPES = {
    "kubernetes": kubernetes_recipe(KUBERNETES_VERSION),
    "containerd": GoBuild(name="containerd", module=CONTAINERD_PACKAGE, version="v2.3.4",
                          binaries={"containerd": "cmd/containerd", "ctr": "cmd/ctr"},
                          ldflags=CONTAINERD_LDFLAGS, tags=("urfave_cli_no_docs",)),
    # Upstream builds the shim without cgo and without gRPC.
    "containerd-shim": GoBuild(name="containerd-shim", module=CONTAINERD_PACKAGE, version="v2.3.4",
                               binaries={"containerd-shim-runc-v2": "cmd/containerd-shim-runc-v2"},
                               ldflags=CONTAINERD_LDFLAGS, tags=("urfave_cli_no_docs", "no_grpc")),
    # runc needs cgo and libseccomp; upstream's release binary is static.
    "runc": GoBuild(name="runc", module="github.com/opencontainers/runc", version="v1.4.3",
                    binaries={"runc": "."}, tags=("seccomp", "urfave_cli_no_docs", "netgo", "osusergo"),
                    cgo=True, static=True,
                    apt={"gcc": "/usr/bin/gcc", "pkg-config": "/usr/bin/pkg-config",
                         "libseccomp-dev": "/usr/include/seccomp.h"}),
    "crictl": GoBuild(name="crictl", module="sigs.k8s.io/cri-tools", version="v1.36.0",
                      binaries={"crictl": "cmd/crictl"},
                      ldflags=("-s", "-w", "-X=sigs.k8s.io/cri-tools/pkg/version.Version={version}")),
    **etcd_recipes(ETCD_VERSION),
    # Every plugin of plugins/main, plugins/meta and plugins/ipam, as its build_linux.sh does.
    "cni-plugins": GoBuild(name="cni-plugins", module="github.com/containernetworking/plugins", version="v1.9.1",
                           binaries={"*": "plugins/m[ae]*/*"}, skip=("windows",),
                           ldflags=("-s", "-w", "-X=github.com/containernetworking/plugins/pkg/utils/"
                                    "buildversion.BuildVersion={tag}")),
    "cni-ipam": GoBuild(name="cni-ipam", module="github.com/containernetworking/plugins", version="v1.9.1",
                        binaries={"*": "plugins/ipam/*"}, skip=("windows",),
                        ldflags=("-s", "-w", "-X=github.com/containernetworking/plugins/pkg/utils/"
                                 "buildversion.BuildVersion={tag}")),
    # The proxy serves cri-dockerd v0.4.0 (not v0.3.x): `go mod download
    # github.com/Mirantis/cri-dockerd@v0.3.26` answers 403 "This module version is not available".
    "cri-dockerd": GoBuild(name="cri-dockerd", module="github.com/Mirantis/cri-dockerd", version="v0.4.0",
                           binaries={"cri-dockerd": "."},
                           ldflags=("-s", "-w", "-X=github.com/Mirantis/cri-dockerd/cmd/version.Version={version}")),
}


# Lab test tools: built like the artifacts, but not part of any set (no cluster deploys them).
# kube-bench runs the CIS Kubernetes Benchmark checks on the lab's nodes (the kubernetes
# scenario's test_cis.py); its checks are the YAML files of the module's cfg/ directory. The
# checksum database does not answer for v0.14.1: its sums are pinned here (from `GONOSUMDB=...
# go mod download -json github.com/aquasecurity/kube-bench@v0.14.1`).
KUBE_BENCH = "github.com/aquasecurity/kube-bench"
TOOL_RECIPES = {
    "kube-bench": GoBuild(name="kube-bench", module=KUBE_BENCH, version="v0.14.1", binaries={"kube-bench": "."},
                          ldflags=("-s", "-w", f"-X={KUBE_BENCH}/cmd.KubeBenchVersion={{version}}"),
                          sums={f"{KUBE_BENCH}@v0.14.1": ("h1:Z/NcXfuwIQJ8jJQ5Qy2QXXVuBkJiIekl/oQ/rM56phA=",
                                                          "h1:Rhb4OXJYLq51jSiEC001GtdsjGY+J65SJINDYhsuckE=")}),
}


def kube_bench() -> Path:
    """A directory holding the kube-bench binary and its cfg/ (built once, cached by recipe)."""
    recipe = TOOL_RECIPES["kube-bench"]
    built = go_build(recipe)
    cfg = built / "cfg"
    if not (cfg / "config.yaml").exists():
        with locked(built.with_name(built.name + ".lock")):
            if not (cfg / "config.yaml").exists():
                staging = built / "cfg.tmp"
                shutil.rmtree(staging, ignore_errors=True)
                shutil.copytree(source_file(recipe, "cfg"), staging)
                for path in [staging, *staging.rglob("*")]:
                    path.chmod(0o755 if path.is_dir() else 0o644)
                staging.rename(cfg)
    return built


def publish_crictl() -> dict[str, dict]:
    """crictl of the current release, in both sets: it speaks CRI v1, as containerd 1.6 does."""
    recipe = CURRENT_RECIPES["crictl"]
    dest = release_dir("github.com", "kubernetes-sigs", "cri-tools", "releases", "download", recipe.version,
                       f"crictl-{recipe.version}-linux-{ARCH}.tar.gz")
    reproducible_tar(go_build(recipe) / "bin", "crictl", dest)
    return {"crictl": entry(recipe.bare_version, dest)}


def current_set(workdir: Path) -> dict[str, dict]:
    built = {name: go_build(recipe) / "bin" for name, recipe in CURRENT_RECIPES.items()}
    recipes = CURRENT_RECIPES

    def version(name: str) -> str:
        return recipes[name].bare_version

    manifest = publish_kubernetes(KUBERNETES_VERSION, built["kubernetes"])
    manifest.update(publish_etcd(version("etcd"), {binary: built[binary] / binary
                                                   for binary in ("etcd", "etcdctl", "etcdutl")}, workdir / "etcd"))
    plugins = workdir / "cni"
    for name in ("cni-plugins", "cni-ipam"):
        shutil.copytree(built[name], plugins, dirs_exist_ok=True)
    manifest.update(publish_cni_plugins(version("cni-plugins"), plugins))
    manifest.update(publish_containerd(version("containerd"), {
        "containerd": built["containerd"] / "containerd", "ctr": built["containerd"] / "ctr",
        "containerd-shim-runc-v2": built["containerd-shim"] / "containerd-shim-runc-v2"}, workdir))
    manifest.update(publish_runc(version("runc"), built["runc"] / "runc"))
    cri_dockerd = version("cri-dockerd")
    staging = workdir / "cri-dockerd-tree"
    publish_file(built["cri-dockerd"] / "cri-dockerd", staging / "cri-dockerd" / "cri-dockerd")
    dest = release_dir("github.com", "Mirantis", "cri-dockerd", "releases", "download", f"v{cri_dockerd}",
                       f"cri-dockerd-{cri_dockerd}.{ARCH}.tgz")
    reproducible_tar(staging, "cri-dockerd", dest)
    manifest["cri_dockerd"] = entry(cri_dockerd, dest)
    manifest.update(publish_current_docker_static(workdir / "docker", built["runc"] / "runc"))
    pause = compile_pause(source_file(recipes["kubernetes"], "build/pause/linux/pause.c"), workdir / "pause")
    manifest.update(publish_pause(pause, current_pause_image(), workdir))
    return manifest


def previous_set(workdir: Path) -> dict[str, dict]:
    """Kubernetes of the previous minor release and etcd's previous patch release, and every other
    artifact of the current set (the same files: an upgrade from this set to the current one changes
    Kubernetes and etcd)."""
    current = read_manifest()["sets"].get(CURRENT)
    if not complete(CURRENT):
        raise SystemExit(f"set {PREVIOUS} reuses set {CURRENT}: build it first (tools/lab artifacts --set {CURRENT})")
    manifest = {name: item for name, item in current.items() if name not in (*KUBERNETES_BINARIES, "etcd")}
    manifest.update(publish_kubernetes(PREVIOUS_KUBERNETES_VERSION,
                                       go_build(kubernetes_recipe(PREVIOUS_KUBERNETES_VERSION)) / "bin"))
    etcd = {name: go_build(recipe) / "bin" / name for name, recipe in etcd_recipes(PREVIOUS_ETCD_VERSION).items()}
    manifest.update(publish_etcd(PREVIOUS_ETCD_VERSION.removeprefix("v"), etcd, workdir / "etcd"))
    return manifest


# ---------------------------------------------------------------- all of it

BUILDERS = {"1.36": (current_set, PUBLISHED_CURRENT), "1.35": (previous_set, PUBLISHED_CURRENT),
            "1.20": (debian_set, PUBLISHED)}
# The sets that do not take the Docker static tarball of Debian's docker.io (bookworm).
OWN_DOCKER = {"1.36", "1.35"}


def read_manifest() -> dict:
    path = MIRROR / "artifacts.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    return {"sets": data.get("sets", {}), "recipes": data.get("recipes", {})}


def complete(set_name: str) -> bool:
    """The set lists every artifact, every file is in the mirror (their sums are checked by
    tests/lab), and it was built from today's recipes."""
    data = read_manifest()
    entries = data["sets"].get(set_name)
    if not entries:
        return False
    # Other checkouts sharing the cache may add entries of their own: they are kept, and only
    # this checkout's recipes must match.
    built_from = data["recipes"].get(set_name) or {}
    return (set(BUILDERS[set_name][1]) <= set(entries)
            and all(built_from.get(name) == key for name, key in recipe_key(set_name).items())
            and all((MIRROR / item["path"]).is_file() for item in entries.values()))


def recipe_key(set_name: str) -> dict:
    """What a set is built from: a change publishes the set again."""
    if set_name == PREVIOUS:
        return {**recipe_key(CURRENT), "kubernetes": kubernetes_recipe(PREVIOUS_KUBERNETES_VERSION).key(),
                **{name: recipe.key() for name, recipe in etcd_recipes(PREVIOUS_ETCD_VERSION).items()}}
    if set_name == "1.20":
        return {"source": DEBIAN_KUBERNETES_SOURCE, "pause": DEBIAN_PAUSE_IMAGE, "busybox": BUSYBOX_REPOSITORY,
                "crictl": CURRENT_RECIPES["crictl"].key(),
                **{name: recipe.key() for name, recipe in network_recipes(DEBIAN_KUBERNETES_VERSION).items()}}
    return {**{name: recipe.key() for name, recipe in CURRENT_RECIPES.items()},
            "pause": current_pause_image(), "busybox": BUSYBOX_REPOSITORY, "docker": CURRENT_DOCKER_SUITE,
            **{name: recipe.key() for name, recipe in network_recipes(KUBERNETES_VERSION).items()}}


def build(sets: tuple[str, ...] = SETS, force: bool = False) -> Path:
    for set_name in sets:
        if set_name not in BUILDERS:
            raise SystemExit(f"Unknown artifact set {set_name}: choose from {', '.join(SETS)}")
        if complete(set_name) and not force:
            continue
        # One session publishes into the mirror at a time; another waits, then finds it done.
        with locked(CACHE / "artifacts.lock"):
            if complete(set_name) and not force:
                continue
            build_set(set_name)
    return MIRROR


def build_set(set_name: str) -> None:
    started = time.monotonic()
    MIRROR.mkdir(parents=True, exist_ok=True)
    builder = BUILDERS[set_name][0]
    with tempfile.TemporaryDirectory(prefix="corral-lab-artifacts-") as tmp:
        entries = builder(Path(tmp) / "set")
        entries.update(publish_network(entries["kube-apiserver"]["version"], Path(tmp) / "network"))
        if set_name not in OWN_DOCKER:
            entries.update(publish_docker_static(Path(tmp) / "docker"))
        entries.update(publish_busybox(Path(tmp) / "busybox"))
        entries.update(publish_crictl())
    data = read_manifest()
    data["sets"][set_name] = {**data["sets"].get(set_name, {}), **entries}
    data["recipes"][set_name] = {**data["recipes"].get(set_name, {}), **recipe_key(set_name)}
    write_manifest(data)
    log(f"Lab artifact set {set_name} ready in {MIRROR} ({time.monotonic() - started:.0f} s)")


def write_manifest(data: dict) -> None:
    (MIRROR / "artifacts.json").write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    files = {item["path"]: item["sha256"] for entries in data["sets"].values() for item in entries.values()}
    (MIRROR / "SHA256SUMS").write_text("".join(f"{digest}  {path}\n" for path, digest in sorted(files.items())))
