# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Pure logic of the artifact_fetch module: which artifacts each host needs, where they come
from, their expected sha256, and fetching them into a controller-side cache, verified.

Layout shared by the mirror and the cache: ``<root>/<upstream host>/<upstream path>``, as the
lab's offline mirror and kubespray's offline files repository lay out their files.
"""

import fnmatch
import hashlib
import io
import json
import os
import re
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.parse
from typing import Any, Callable, NamedTuple, Optional, Tuple

from ansible_collections.corral.cluster.plugins.module_utils._files import write_atomic

PUBLISHED = "published"
PINNED = "pinned"
KINDS = ("binary", "tarball")
MIRROR_SCHEMES = ("http", "https", "file")
TIMEOUT_SECONDS = 60
CHUNK_BYTES = 1 << 20
# Written into an extracted tarball's directory: the sum of the tarball it came from.
EXTRACTED_MARKER = ".corral-extracted-from"
# Written into the cache: the sums of its files, with what each file looked like when it was read.
SUMS_MEMO = ".corral-sums.json"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class ArtifactError(Exception):
    """A problem with an artifact, worded for the person running the playbook."""


class Artifact(NamedTuple):
    """One artifact for one architecture, with everything needed to fetch and verify it."""

    name: str
    version: str
    arch: str
    url: str  # upstream URL
    sha256: str  # expected hex digest, or PUBLISHED (read <source>.sha256)
    kind: str = "binary"
    members: tuple = ()
    optional_members: tuple = ()

    @property
    def label(self) -> str:
        return f"{self.name} {self.version} ({self.arch})"


class Fetched:
    """What fetch() did for one artifact."""

    def __init__(self, artifact: Artifact, source: str, path: str, sha256: str = "", downloaded: bool = False,
                 extracted: bool = False, pending: bool = False, files: Optional[list] = None) -> None:
        self.artifact = artifact
        self.source = source
        self.path = path
        self.sha256 = sha256
        self.downloaded = downloaded
        self.extracted = extracted
        self.pending = pending  # check mode: would be downloaded or extracted
        self.files = list(files or [])  # [{"name": installed name, "src": controller path}]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Fetched):
            return NotImplemented
        return self.artifact == other.artifact and self.as_dict() == other.as_dict()

    def __repr__(self) -> str:
        return f"Fetched({self.as_dict()!r})"

    def as_dict(self) -> dict:
        return {
            "name": self.artifact.name,
            "version": self.artifact.version,
            "arch": self.artifact.arch,
            "url": self.artifact.url,
            "source": self.source,
            "path": self.path,
            "sha256": self.sha256,
            "downloaded": self.downloaded,
            "extracted": self.extracted,
            "pending": self.pending,
            "files": self.files,
        }


# --- where things are ----------------------------------------------------------------------


# Kernel (uname -m) names of the architectures, for sites that use them (download.docker.com).
UNAME_ARCH = {"amd64": "x86_64", "arm64": "aarch64"}


def render_url(template: str, version: str, arch: str) -> str:
    """The upstream URL of a catalog template ("{version}", "{base_version}" (the version without a
    "-suffix"), "{arch}" and "{uname_arch}")."""
    return template.format(version=version, base_version=version.split("-", 1)[0], arch=arch,
                           uname_arch=UNAME_ARCH.get(arch, arch))


def relative_path(url: str) -> str:
    """``<host>/<path>`` of an upstream URL: its place in a mirror and in the cache."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.netloc}{parts.path}"


def check_mirror_url(mirror_url: str) -> None:
    """Refuse a mirror URL that urllib cannot fetch from (or that is not a URL at all)."""
    if not mirror_url:
        return
    parts = urllib.parse.urlsplit(mirror_url)
    if parts.scheme not in MIRROR_SCHEMES or not (parts.netloc or parts.scheme == "file"):
        raise ArtifactError(
            f"artifacts_mirror_url {mirror_url!r} is not an http://, https:// or file:// URL, e.g. "
            "https://mirror.example.com/k8s or file:///srv/mirror."
        )


def source_url(url: str, mirror_url: str) -> str:
    """Where to fetch an upstream URL from: the mirror's ``<mirror>/<host>/<path>``, else upstream."""
    if not mirror_url:
        return url
    return f"{mirror_url.rstrip('/')}/{relative_path(url)}"


def cache_path(cache_dir: str, url: str) -> str:
    """The cache file of an upstream URL."""
    return os.path.join(cache_dir, relative_path(url))


# --- what is needed ------------------------------------------------------------------------


def normalize_sha256(value: str) -> str:
    """The hex digest of "sha256:<hex>" or "<hex>"; ArtifactError when it is not one."""
    digest = str(value).strip().lower()
    digest = digest[len("sha256:"):] if digest.startswith("sha256:") else digest
    if not _SHA256.match(digest):
        raise ArtifactError(f"{value!r} is not a sha256 sum (sha256:<64 hex digits>)")
    return digest


def expected_sha256(name: str, entry: dict, arch: str, pinned: dict, overrides: dict) -> str:
    """The expected sum of an artifact: an override, else published or the pinned table."""
    version = str(entry["version"])
    override = (overrides.get(name) or {}).get(version)
    if isinstance(override, dict):
        override = override.get(arch)
    if override:
        try:
            return normalize_sha256(override)
        except ArtifactError as exc:
            raise ArtifactError(f"artifacts_checksums.{name}.{version}: {exc}") from None
    if entry.get("sha256", PINNED) == PUBLISHED:
        return PUBLISHED
    known = ((pinned.get(name) or {}).get(arch) or {}).get(version)
    if not known:
        url = render_url(entry["url"], version, arch)
        raise ArtifactError(
            f"No sha256 is known for {name} {version} ({arch}), {url}: set artifacts_checksums.{name}.{version} "
            f'to the sum of that file (YAML: artifacts_checksums: {{{name}: {{"{version}": "sha256:<hex>"}}}}), '
            "or choose a version of the role's table."
        )
    return normalize_sha256(known)


def plan(catalog: dict, hosts: dict, pinned: dict, overrides: dict) -> Tuple[list, dict]:
    """The artifacts to fetch and, per host, the names it needs.

    catalog: name -> {version, url, sha256 (published|pinned), kind, members, optional_members, groups}
    hosts: inventory host -> {arch, groups}
    Every problem is reported at once, before anything is fetched.
    """
    needs = {
        host: [name for name, entry in catalog.items() if set(entry.get("groups") or ()) & set(facts["groups"])]
        for host, facts in hosts.items()
    }
    wanted = sorted({(name, hosts[host]["arch"]) for host, names in needs.items() for name in names})
    artifacts, problems = [], []
    for name, arch in wanted:
        entry = catalog[name]
        kind = entry.get("kind", "binary")
        try:
            if kind not in KINDS:
                raise ArtifactError(f"{name}: kind {kind!r} is not one of {', '.join(KINDS)}")
            sha256 = expected_sha256(name, entry, arch, pinned, overrides)
        except ArtifactError as exc:
            problems.append(str(exc))
            continue
        artifacts.append(
            Artifact(
                name=name,
                version=str(entry["version"]),
                arch=arch,
                url=render_url(entry["url"], str(entry["version"]), arch),
                sha256=sha256,
                kind=kind,
                members=tuple(entry.get("members") or ()),
                optional_members=tuple(entry.get("optional_members") or ()),
            )
        )
    if problems:
        raise ArtifactError("\n".join(problems))
    return artifacts, needs


# --- fetching ------------------------------------------------------------------------------


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


class SumMemo:
    """The sums of the cache's files, each read again only when the file's size, mtime, ctime or inode
    changed since it was last read (as git's index decides what to hash again): a run that finds the
    cache as the last one left it does not read hundreds of megabytes. Kept in ``<cache_dir>/SUMS_MEMO``;
    ``save`` writes it (a real run), atomically."""

    def __init__(self, cache_dir: str, digest: Callable[[str], str] = file_sha256) -> None:
        self.path = os.path.join(cache_dir, SUMS_MEMO)
        self.digest = digest
        self.dirty = False
        try:
            with open(self.path, encoding="utf-8") as handle:
                self.sums = dict(json.load(handle))
        except (OSError, ValueError, TypeError):  # none yet, or unreadable: every file is read
            self.sums = {}

    @staticmethod
    def _stamp(path: str) -> str:
        info = os.stat(path)
        return f"{info.st_size}:{info.st_mtime_ns}:{info.st_ctime_ns}:{info.st_ino}"

    def sha256(self, path: str) -> str:
        known = self.sums.get(path)
        if isinstance(known, list) and len(known) == 2 and known[0] == self._stamp(path):
            return str(known[1])
        return self.record(path, self.digest(path))

    def record(self, path: str, sha256: str) -> str:
        """Remember SHA256 as the sum of PATH as it is now (just read, or verified while downloaded)."""
        self.sums[path] = [self._stamp(path), sha256]
        self.dirty = True
        return sha256

    def save(self) -> None:
        if not self.dirty or not os.path.isdir(os.path.dirname(self.path)):
            return
        current = {path: value for path, value in self.sums.items() if os.path.exists(path)}
        write_atomic(self.path, io.BytesIO(json.dumps(current, indent=0, sort_keys=True).encode("utf-8")), 0o644)
        self.dirty = False


# How a URL is opened: (url, timeout) -> a response with read() and close(), raising
# urllib.error.URLError or OSError when it cannot be fetched.
Opener = Callable[[str, float], Any]


def ansible_opener(url: str, timeout: float) -> Any:
    """``open_url`` of ansible.module_utils.urls: proxies, CA bundle and redirects as every module has them.

    It opens file:// URLs too. Imported here, so that the rest of this file needs no Ansible.
    """
    from ansible.module_utils.urls import ConnectionError as UrlsError  # pylint: disable=redefined-builtin
    from ansible.module_utils.urls import open_url

    try:
        return open_url(url, timeout=timeout)
    except UrlsError as exc:  # TLS verification failed, a proxy refused, ...
        raise urllib.error.URLError(exc) from exc


def _open(url: str, artifact: Artifact, cache_file: str, opener: Optional[Opener] = None):
    """Open url, with a missing file turned into the message that says where to put it."""
    try:
        return (opener or ansible_opener)(url, TIMEOUT_SECONDS)
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise ArtifactError(
            f"{artifact.label}: cannot fetch {url} ({reason}). Put the upstream file {artifact.url} at "
            f"{cache_file}, or make the mirror serve it at that URL."
        ) from None


def _offline_missing(artifact: Artifact, cache_file: str, upstream: str) -> ArtifactError:
    return ArtifactError(
        f"{artifact.label}: artifacts_offline is set, no artifacts_mirror_url is set, and {cache_file} is "
        f"missing or not the expected file: put the upstream file {upstream} there."
    )


def published_sha256(artifact: Artifact, source: str, cache_file: str, can_fetch: bool, write: bool,
                     opener: Optional[Opener] = None) -> str:
    """The sum of ``<source>.sha256`` (first field), kept beside the cached file."""
    sum_file = f"{cache_file}.sha256"
    if os.path.isfile(sum_file):
        with open(sum_file, encoding="utf-8") as handle:
            text = handle.read()
    elif not can_fetch:
        raise _offline_missing(artifact, sum_file, f"{artifact.url}.sha256")
    else:
        with _open(f"{source}.sha256", artifact, sum_file, opener) as response:
            text = response.read(4096).decode("utf-8", "replace")
    fields = text.split()
    try:
        digest = normalize_sha256(fields[0] if fields else "")
    except ArtifactError as exc:
        raise ArtifactError(f"{artifact.label}: {source}.sha256 holds no sum: {exc}") from None
    if write and not os.path.isfile(sum_file):
        os.makedirs(os.path.dirname(sum_file), exist_ok=True)
        with open(sum_file, "w", encoding="utf-8") as handle:
            handle.write(f"{digest}\n")
    return digest


def download(artifact: Artifact, source: str, cache_file: str, expected: str, opener: Optional[Opener] = None) -> None:
    """Download to a temporary file beside cache_file, verify, move into place; never keeps a bad file."""
    directory = os.path.dirname(cache_file)
    os.makedirs(directory, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".download-")
    try:
        digest = hashlib.sha256()
        with os.fdopen(handle, "wb") as out, _open(source, artifact, cache_file, opener) as response:
            for chunk in iter(lambda: response.read(CHUNK_BYTES), b""):
                digest.update(chunk)
                out.write(chunk)
        actual = digest.hexdigest()
        if actual != expected:
            raise ArtifactError(
                f"{artifact.label}: the sha256 of {source} is {actual}, expected {expected}; the download was "
                f"discarded. If the file is the right one (a rebuild, a mirror's own build), set "
                f'artifacts_checksums.{artifact.name}.{artifact.version} to "sha256:{actual}"; otherwise fix the '
                f"mirror, or put the upstream file {artifact.url} at {cache_file}."
            )
        os.chmod(temporary, 0o644)
        os.replace(temporary, cache_file)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def _matches(basename: str, patterns: tuple) -> bool:
    return any(fnmatch.fnmatchcase(basename, pattern) for pattern in patterns)


def extract(artifact: Artifact, tarball: str, sha256: str, write: bool) -> Tuple[str, bool]:
    """Extract the members of a verified tarball, flat, into ``<tarball>.d``; (directory, changed).

    Kept while its marker names the tarball's sum, so an upgrade (a new file) or a replaced
    tarball is extracted again and a rerun is not.
    """
    directory = f"{tarball}.d"
    marker = os.path.join(directory, EXTRACTED_MARKER)
    if os.path.isfile(marker):
        with open(marker, encoding="utf-8") as handle:
            if handle.read().strip() == sha256:
                return directory, False
    if not write:
        return directory, True
    staging = tempfile.mkdtemp(dir=os.path.dirname(tarball), prefix=".extract-")
    try:
        with tarfile.open(tarball) as archive:
            patterns = artifact.members + artifact.optional_members
            wanted = [
                member
                for member in archive.getmembers()
                if member.isfile() and _matches(os.path.basename(member.name), patterns)
            ]
            names = [os.path.basename(member.name) for member in wanted]
            missing = [pattern for pattern in artifact.members if not any(_matches(n, (pattern,)) for n in names)]
            if missing:
                raise ArtifactError(
                    f"{artifact.label}: {tarball} holds no file matching {', '.join(missing)}; is it the right "
                    f"tarball ({artifact.url})?"
                )
            for member in wanted:
                # Written by basename only: no path from the archive reaches the file system.
                target = os.path.join(staging, os.path.basename(member.name))
                with archive.extractfile(member) as data, open(target, "wb") as out:
                    shutil.copyfileobj(data, out)
                os.chmod(target, 0o755)
        with open(os.path.join(staging, EXTRACTED_MARKER), "w", encoding="utf-8") as handle:
            handle.write(f"{sha256}\n")
        shutil.rmtree(directory, ignore_errors=True)
        os.replace(staging, directory)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return directory, True


def installed_files(artifact: Artifact, path: str, directory: Optional[str], sha256: str = "",
                    digest: Callable[[str], str] = file_sha256) -> list:
    """What goes to the hosts: the binary under its artifact name, or the extracted members."""
    # Each with its sha256, which the hosts' copies are compared with before any transfer.
    if artifact.kind == "binary":
        return [{"name": artifact.name, "src": path, "sha256": sha256 or digest(path)}]
    return [
        {"name": name, "src": os.path.join(directory, name), "sha256": digest(os.path.join(directory, name))}
        for name in sorted(os.listdir(directory))
        if name != EXTRACTED_MARKER
    ]


def fetch(
    artifact: Artifact, cache_dir: str, mirror_url: str = "", offline: bool = False, write: bool = True,
    opener: Optional[Opener] = None, memo: Optional["SumMemo"] = None,
) -> Fetched:
    """Bring one artifact into the cache, verified (and extracted); with write=False only tell what would happen.
    With a ``memo``, only the cached files changed since the last run are read again."""
    digest = memo.sha256 if memo else file_sha256
    source = source_url(artifact.url, mirror_url)
    path = cache_path(cache_dir, artifact.url)
    result = Fetched(artifact=artifact, source=source, path=path)
    # Offline, only a mirror (on the local network) may be reached; without one, only the cache.
    can_fetch = bool(mirror_url) or not offline
    expected = artifact.sha256
    if expected == PUBLISHED:
        expected = published_sha256(artifact, source, path, can_fetch, write, opener)
    result.sha256 = expected
    if not (os.path.isfile(path) and digest(path) == expected):
        if not can_fetch:
            raise _offline_missing(artifact, path, artifact.url)
        if not write:
            # Opened and closed unread: a missing file shows in check mode too.
            _open(source, artifact, path, opener).close()
            result.pending = True
            return result
        download(artifact, source, path, expected, opener)
        result.downloaded = True
        if memo:
            memo.record(path, expected)  # verified while it was downloaded
    directory = None
    if artifact.kind == "tarball":
        directory, result.extracted = extract(artifact, path, expected, write)
        if result.extracted and not write:
            result.pending = True
            return result
    result.files = installed_files(artifact, path, directory, expected, digest)
    return result
