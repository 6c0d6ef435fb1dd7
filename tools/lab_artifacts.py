"""Cluster artifacts for the lab, built from Debian's packages only, in the upstream layout.

The lab cannot reach dl.k8s.io, GitHub releases or any image registry, so it builds what a
cluster needs from Debian's archive and lays it out as an offline mirror would:

    <mirror>/dl.k8s.io/release/v1.20.2/bin/linux/amd64/kube-apiserver (+ .sha256), ...
    <mirror>/github.com/etcd-io/etcd/releases/download/v3.4.23/etcd-v3.4.23-linux-amd64.tar.gz
    <mirror>/github.com/containernetworking/plugins/releases/download/v1.1.1/cni-plugins-linux-amd64-v1.1.1.tgz
    <mirror>/images/pause-3.2.tar, <mirror>/images/busybox-1.35.0.tar   (docker archives)
    <mirror>/SHA256SUMS, <mirror>/artifacts.json

Kubernetes v1.20.2 is compiled from Debian's `kubernetes` source package (the full upstream
tree with vendor/); the build is cached under a key made of the source tarball's sha256.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from lab import CACHE, MIRROR, debian_mirror, docker, log, run
ARCH = "amd64"

KUBERNETES_VERSION = "1.20.2"
KUBERNETES_SOURCE = "pool/main/k/kubernetes/kubernetes_1.20.5+really1.20.2.orig.tar.gz"
KUBERNETES_BINARIES = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet",
                       "kube-proxy", "kubectl")
GO = Path("/usr/lib/go-1.19/bin")
PAUSE_IMAGE = "k8s.gcr.io/pause:3.2"  # the sandbox image Kubernetes 1.20 asks for
BUSYBOX_IMAGE = "docker.io/library/busybox:1.35.0"
# Every entry of artifacts.json: a mirror without one of them is rebuilt.
PUBLISHED = (*KUBERNETES_BINARIES, "etcd", "cni_plugins", "containerd", "runc", "docker_static",
             "pause_image", "busybox_image")
# Controller packages the build needs (Debian bookworm).
BUILD_PACKAGES = {"golang-1.19-go": GO / "go", "rsync": Path("/usr/bin/rsync"),
                  "gcc": Path("/usr/bin/gcc"), "make": Path("/usr/bin/make")}


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def ensure_build_packages() -> None:
    missing = [name for name, path in BUILD_PACKAGES.items() if not path.exists()]
    if missing:
        log(f"Installing {' '.join(missing)}")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
                       check=True, env=env, stdout=subprocess.DEVNULL)


def download(url: str, dest: Path) -> Path:
    if not dest.exists():
        log(f"Downloading {url}")
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_suffix(dest.suffix + ".part")
        with urllib.request.urlopen(url, timeout=120) as response, partial.open("wb") as out:
            shutil.copyfileobj(response, out)
        partial.rename(dest)
    return dest


def debian_package_tree(packages: list[str], workdir: Path) -> Path:
    """The files of Debian packages, unpacked (not installed) into workdir/root."""
    run("apt-get", "download", *packages, capture=True, cwd=workdir)
    root = workdir / "root"
    for deb in sorted(workdir.glob("*.deb")):
        run("dpkg-deb", "-x", str(deb), str(root))
    return root


def package_version(root: Path, package: str) -> str:
    """Upstream version of an unpacked package, from its changelog-free control data."""
    out = run("dpkg-deb", "-f", str(next(root.parent.glob(f"{package}_*.deb"))), "Version",
              capture=True)
    return out.split(":")[-1].split("-")[0].split("+")[0]


# ---------------------------------------------------------------- Kubernetes

def kubernetes_binaries() -> Path:
    """Build (or reuse) the Kubernetes server binaries and the pause binary."""
    tarball = download(f"{debian_mirror()}/{KUBERNETES_SOURCE}",
                       CACHE / "downloads" / Path(KUBERNETES_SOURCE).name)
    built = CACHE / "kubernetes-build" / sha256(tarball)
    if (built / "done").exists():
        return built
    ensure_build_packages()
    log(f"Building Kubernetes v{KUBERNETES_VERSION} from Debian's source (about 6 minutes)")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="corral-k8s-build-") as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        run("tar", "-C", str(src), "--strip-components=1", "-xzf", str(tarball))
        gopath = src / ".go"
        (gopath / "src" / "k8s.io").mkdir(parents=True)
        (gopath / "src" / "k8s.io" / "kubernetes").symlink_to("../../..")
        env = dict(os.environ, GOPATH=str(gopath), PATH=f"{GO}:{os.environ['PATH']}",
                   CGO_ENABLED="0", GOPROXY="off", GOFLAGS="-mod=vendor",
                   GOCACHE=str(CACHE / "go-cache"))
        what = " ".join(f"cmd/{name}" for name in KUBERNETES_BINARIES)
        subprocess.run(["make", f"WHAT={what}"], cwd=src, env=env, check=True,
                       stdout=subprocess.DEVNULL)
        bindir = built / "bin"
        bindir.mkdir(parents=True, exist_ok=True)
        for name in KUBERNETES_BINARIES:
            shutil.copy2(src / "_output" / "bin" / name, bindir / name)
        run("gcc", "-Os", "-static", "-o", str(bindir / "pause"),
            str(src / "build" / "pause" / "linux" / "pause.c"))
    (built / "done").write_text(f"{time.monotonic() - started:.0f}\n")
    log(f"Built Kubernetes in {time.monotonic() - started:.0f} s")
    return built


def publish_kubernetes(built: Path) -> dict[str, dict]:
    release = MIRROR / "dl.k8s.io" / "release" / f"v{KUBERNETES_VERSION}" / "bin" / "linux" / ARCH
    release.mkdir(parents=True, exist_ok=True)
    entries = {}
    for name in KUBERNETES_BINARIES:
        dest = release / name
        shutil.copy2(built / "bin" / name, dest)
        digest = sha256(dest)
        # Upstream publishes <binary>.sha256 next to each binary: so does the lab.
        (release / f"{name}.sha256").write_text(digest + "\n")
        entries[name] = {"version": KUBERNETES_VERSION, "path": str(dest.relative_to(MIRROR)),
                         "sha256": digest}
    return entries


# ---------------------------------------------------------------- etcd and CNI

def publish_etcd(workdir: Path) -> dict[str, dict]:
    root = debian_package_tree(["etcd-server", "etcd-client"], workdir)
    version = package_version(root, "etcd-server")
    name = f"etcd-v{version}-linux-{ARCH}"
    staging = workdir / name
    staging.mkdir()
    for binary in ("etcd", "etcdctl", "etcdutl"):
        source = root / "usr" / "bin" / binary
        if source.exists():
            shutil.copy2(source, staging / binary)
    dest = (MIRROR / "github.com" / "etcd-io" / "etcd" / "releases" / "download" / f"v{version}"
            / f"{name}.tar.gz")
    reproducible_tar(workdir, name, dest)
    return {"etcd": {"version": version, "path": str(dest.relative_to(MIRROR)), "sha256": sha256(dest)}}


def publish_cni_plugins(workdir: Path) -> dict[str, dict]:
    root = debian_package_tree(["containernetworking-plugins"], workdir)
    version = package_version(root, "containernetworking-plugins")
    dest = (MIRROR / "github.com" / "containernetworking" / "plugins" / "releases" / "download"
            / f"v{version}" / f"cni-plugins-linux-{ARCH}-v{version}.tgz")
    # Upstream's tarball holds the plugins at its top level.
    reproducible_tar(root / "usr" / "lib" / "cni", ".", dest)
    return {"cni_plugins": {"version": version, "path": str(dest.relative_to(MIRROR)),
                            "sha256": sha256(dest)}}


# ---------------------------------------------------------------- runtimes

def publish_containerd(workdir: Path) -> dict[str, dict]:
    """containerd's and runc's upstream release layout, from Debian's containerd and runc."""
    root = debian_package_tree(["containerd", "runc"], workdir)
    version = package_version(root, "containerd")
    name = f"containerd-{version}-linux-{ARCH}"
    staging = workdir / name / "bin"
    staging.mkdir(parents=True)
    for binary in ("containerd", "containerd-shim-runc-v2", "ctr"):
        shutil.copy2(root / "usr" / "bin" / binary, staging / binary)
    release = MIRROR / "github.com" / "containerd" / "containerd" / "releases" / "download"
    dest = release / f"v{version}" / f"{name}.tar.gz"
    # Upstream's tarball holds bin/<binary>.
    reproducible_tar(workdir / name, "bin", dest)
    runc_version = package_version(root, "runc")
    runc = (MIRROR / "github.com" / "opencontainers" / "runc" / "releases" / "download"
            / f"v{runc_version}" / f"runc.{ARCH}")
    runc.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(root / "usr" / "sbin" / "runc", runc)
    return {"containerd": {"version": version, "path": str(dest.relative_to(MIRROR)), "sha256": sha256(dest)},
            "runc": {"version": runc_version, "path": str(runc.relative_to(MIRROR)), "sha256": sha256(runc)}}


def publish_docker_static(workdir: Path) -> dict[str, dict]:
    """Docker's static tarball layout (docker/<binary>), from Debian's docker.io and its
    dependencies. Debian's dockerd is not static: it links libdevmapper, so a lab node needs
    libdevmapper1.02.1 (upstream's tarball needs nothing)."""
    root = debian_package_tree(["docker.io", "containerd", "runc", "tini"], workdir)
    version = package_version(root, "docker.io")
    staging = workdir / "docker"
    staging.mkdir()
    sources = {"docker": "usr/bin/docker", "dockerd": "usr/sbin/dockerd",
               "docker-proxy": "usr/sbin/docker-proxy", "docker-init": "usr/bin/tini-static",
               "containerd": "usr/bin/containerd", "containerd-shim": "usr/bin/containerd-shim",
               "containerd-shim-runc-v2": "usr/bin/containerd-shim-runc-v2", "ctr": "usr/bin/ctr",
               "runc": "usr/sbin/runc"}
    for binary, source in sources.items():
        shutil.copy2(root / source, staging / binary)
    dest = MIRROR / "download.docker.com" / "linux" / "static" / "stable" / "x86_64" / f"docker-{version}.tgz"
    reproducible_tar(workdir, "docker", dest)
    return {"docker_static": {"version": version, "path": str(dest.relative_to(MIRROR)), "sha256": sha256(dest)}}


# tar options that make an archive's bytes depend only on its content.
REPRODUCIBLE_TAR = ("--sort=name", "--owner=0", "--group=0", "--numeric-owner", "--mtime=@0")


def reproducible_tar(directory: Path, member: str, dest: Path) -> None:
    """A tarball whose bytes depend only on its content, so its sha256 is stable."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tar = subprocess.Popen(
        ["tar", "-C", str(directory), *REPRODUCIBLE_TAR, "-cf", "-", member], stdout=subprocess.PIPE)
    with dest.open("wb") as out:
        subprocess.run(["gzip", "-9n"], stdin=tar.stdout, stdout=out, check=True)
    if tar.wait() != 0:
        raise SystemExit(f"tar of {directory}/{member} failed")


# ---------------------------------------------------------------- images

def image_archive(rootfs: Path, image: str, changes: list[str], dest: Path) -> None:
    """A docker archive (`docker load`, `ctr images import`) of a one-layer image."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tar = subprocess.Popen(["tar", "-C", str(rootfs), *REPRODUCIBLE_TAR, "-cf", "-", "."], stdout=subprocess.PIPE)
    args = [arg for change in changes for arg in ("-c", change)]
    subprocess.run(["docker", "import", *args, "-", image], stdin=tar.stdout, check=True,
                   stdout=subprocess.DEVNULL)
    tar.wait()
    docker("save", "-o", str(dest), image)
    dest.chmod(0o644)


def publish_images(built: Path, workdir: Path) -> dict[str, dict]:
    images = MIRROR / "images"
    entries = {}
    pause_dest = images / "pause-3.2.tar"
    pause_root = workdir / "pause"
    pause_root.mkdir()
    shutil.copy2(built / "bin" / "pause", pause_root / "pause")
    if not pause_dest.exists():
        image_archive(pause_root, PAUSE_IMAGE, ['ENTRYPOINT ["/pause"]'], pause_dest)
    entries["pause_image"] = {"version": "3.2", "image": PAUSE_IMAGE}

    root = debian_package_tree(["busybox-static"], workdir / "busybox")
    version = package_version(root, "busybox-static")
    busybox_dest = images / f"busybox-{version}.tar"
    if not busybox_dest.exists():
        rootfs = workdir / "busybox-rootfs"
        (rootfs / "bin").mkdir(parents=True)
        shutil.copy2(root / "bin" / "busybox", rootfs / "bin" / "busybox")
        applets = run(str(rootfs / "bin" / "busybox"), "--list", capture=True).split()
        for applet in applets:
            if applet != "busybox":
                (rootfs / "bin" / applet).symlink_to("busybox")
        image_archive(rootfs, f"docker.io/library/busybox:{version}", ['CMD ["sh"]'], busybox_dest)
    entries["busybox_image"] = {"version": version, "image": f"docker.io/library/busybox:{version}"}
    for key, dest in (("pause_image", pause_dest), ("busybox_image", busybox_dest)):
        entries[key].update(path=str(dest.relative_to(MIRROR)), sha256=sha256(dest))
    return entries


# ---------------------------------------------------------------- all of it

def complete() -> bool:
    """Every file the manifest lists is in the mirror (sums are checked by tests/lab)."""
    manifest = MIRROR / "artifacts.json"
    if not manifest.exists():
        return False
    entries = json.loads(manifest.read_text())
    return set(PUBLISHED) <= set(entries) and all((MIRROR / entry["path"]).is_file() for entry in entries.values())


def build(force: bool = False) -> Path:
    if complete() and not force:
        return MIRROR
    started = time.monotonic()
    MIRROR.mkdir(parents=True, exist_ok=True)
    built = kubernetes_binaries()
    manifest: dict[str, dict] = {}
    manifest.update(publish_kubernetes(built))
    with tempfile.TemporaryDirectory(prefix="corral-lab-artifacts-") as tmp:
        for name, publish in (("etcd", publish_etcd), ("cni", publish_cni_plugins),
                              ("containerd", publish_containerd), ("docker", publish_docker_static)):
            workdir = Path(tmp) / name
            workdir.mkdir()
            manifest.update(publish(workdir))
        images_dir = Path(tmp) / "images"
        images_dir.mkdir()
        (images_dir / "busybox").mkdir()
        manifest.update(publish_images(built, images_dir))
    (MIRROR / "artifacts.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    (MIRROR / "SHA256SUMS").write_text("".join(
        f"{entry['sha256']}  {entry['path']}\n" for entry in sorted(manifest.values(), key=lambda e: e["path"])))
    log(f"Lab artifacts ready in {MIRROR} ({time.monotonic() - started:.0f} s)")
    return MIRROR
