"""Build the contract stand-in images of Rancher as local docker images, with no registry.

One small rootfs (Python and openssl from Debian's packages, unpacked with dpkg-deb, plus
tests/contract/standin/) is imported once per image name, each with its own entrypoint and
environment, so that each tag is a distinct image (a changed tag recreates the container):

  corral.test/rancher-standin:v2.5.16, :v2.5.17   Rancher 2.x stand-in (2.5 imports Kubernetes 1.20)
  corral.test/rancher-server-standin:v1.6.30      Rancher 1.6 stand-in (port 8080)
  corral.test/rancher-agent-standin:v1.2.11       Rancher 1.6 host agent stand-in
  corral.test/rancher-cluster-agent-standin:v2.5.16   Rancher 2.5 cluster agent stand-in (the import
                                                  manifest's cattle-cluster-agent; runs in the cluster)

They are saved together as one docker archive, cached by the hash of the recipe:
  ~/.cache/corral-lab/images/rancher-standin-<hash>.tar      (prints the path)

Usage: build_images.py [--print-path]   (--print-path: only print where the archive is/would be)
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
STANDIN = HERE / "standin"
CACHE = Path(os.environ.get("CORRAL_LAB_CACHE", Path.home() / ".cache" / "corral-lab")) / "images"
PACKAGES = [
    "python3.11-minimal", "libpython3.11-minimal", "libpython3.11-stdlib", "libc6", "libssl3", "openssl",
    "zlib1g", "libexpat1", "libffi8", "libbz2-1.0", "liblzma5", "libcrypt1", "libuuid1", "libsqlite3-0",
    "libtirpc3", "libnsl2", "libgssapi-krb5-2", "libkrb5-3", "libk5crypto3", "libkrb5support0", "libcom-err2",
    "libkeyutils1", "libreadline8", "libncursesw6", "libtinfo6", "libdb5.3", "media-types",
]
PYTHON = "/usr/bin/python3.11"
IMAGES = {
    "corral.test/rancher-standin:v2.5.16": {
        "entrypoint": [PYTHON, "/opt/standin/rancher_standin.py"],
        "env": {"STANDIN_MODE": "v2", "STANDIN_RANCHER_VERSION": "v2.5.16"}, "expose": ["80", "443"],
    },
    "corral.test/rancher-standin:v2.5.17": {
        "entrypoint": [PYTHON, "/opt/standin/rancher_standin.py"],
        "env": {"STANDIN_MODE": "v2", "STANDIN_RANCHER_VERSION": "v2.5.17"}, "expose": ["80", "443"],
    },
    "corral.test/rancher-server-standin:v1.6.30": {
        "entrypoint": [PYTHON, "/opt/standin/rancher_standin.py"],
        "env": {"STANDIN_MODE": "v1", "STANDIN_RANCHER_VERSION": "v1.6.30"}, "expose": ["8080"],
    },
    "corral.test/rancher-agent-standin:v1.2.11": {
        "entrypoint": [PYTHON, "/opt/standin/rancher_agent_standin.py"], "env": {}, "expose": [],
    },
    "corral.test/rancher-cluster-agent-standin:v2.5.16": {
        "entrypoint": [PYTHON, "/opt/standin/rancher_cluster_agent_standin.py"], "env": {}, "expose": [],
    },
}


def recipe_hash() -> str:
    digest = hashlib.sha256(json.dumps({"packages": PACKAGES, "images": IMAGES}, sort_keys=True).encode())
    for path in sorted(STANDIN.glob("*.py")):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:12]


def archive_path() -> Path:
    return CACHE / f"rancher-standin-{recipe_hash()}.tar"


def run(*cmd: str, **kwargs) -> None:
    subprocess.run(cmd, check=True, **kwargs)


def build(dest: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="corral-rancher-standin-") as tmp:
        work = Path(tmp)
        run("apt-get", "download", "-q", *PACKAGES, cwd=work, stdout=subprocess.DEVNULL)
        root = work / "root"
        for deb in sorted(work.glob("*.deb")):
            run("dpkg-deb", "-x", str(deb), str(root))
        # Debian's merged /usr: the loader and libraries are looked up under /lib and /lib64.
        for name in ("bin", "lib", "lib64", "sbin"):
            if (root / name).exists() and not (root / name).is_symlink():
                shutil.copytree(root / name, root / "usr" / name, dirs_exist_ok=True, symlinks=True)
                shutil.rmtree(root / name)
            (root / "usr" / name).mkdir(parents=True, exist_ok=True)
            (root / name).symlink_to(f"usr/{name}")
        (root / "usr/bin/python3").unlink(missing_ok=True)
        (root / "usr/bin/python3").symlink_to("python3.11")
        for name in ("tmp", "etc", "var/lib/rancher", "var/lib/mysql", "var/run", "etc/rancher/ssl"):
            (root / name).mkdir(parents=True, exist_ok=True)
        (root / "tmp").chmod(0o1777)
        (root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
        (root / "etc/group").write_text("root:x:0:\n")
        (root / "opt/standin").mkdir(parents=True)
        for path in STANDIN.glob("*.py"):
            shutil.copy2(path, root / "opt/standin" / path.name)
        tar = ["tar", "-C", str(root), "--sort=name", "--owner=0", "--group=0", "--numeric-owner",
               "--mtime=@0", "-cf", str(work / "rootfs.tar"), "."]
        run(*tar)
        for image, spec in IMAGES.items():
            changes = [f"ENTRYPOINT {json.dumps(spec['entrypoint'])}",
                       *(f"ENV {k}={v}" for k, v in spec["env"].items()),
                       *(f"EXPOSE {port}" for port in spec["expose"]),
                       "LABEL io.corral.contract-standin=true"]
            args = [arg for change in changes for arg in ("-c", change)]
            run("docker", "import", *args, str(work / "rootfs.tar"), image, stdout=subprocess.DEVNULL)
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_suffix(".partial")
        run("docker", "save", "-o", str(partial), *IMAGES)
        partial.replace(dest)
        dest.chmod(0o644)
        for old in dest.parent.glob("rancher-standin-*.tar"):  # earlier recipes
            if old != dest:
                old.unlink()


def main() -> None:
    dest = archive_path()
    if "--print-path" not in sys.argv[1:] and not dest.exists():
        print(f"Building the Rancher stand-in images into {dest}", file=sys.stderr)
        build(dest)
    print(dest)


if __name__ == "__main__":
    main()
