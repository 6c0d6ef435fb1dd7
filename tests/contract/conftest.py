"""Contract tests: the Rancher client and modules against the stand-in server, in-process on 127.0.0.1.

They check that corral.cluster speaks Rancher's API as documented (request and response shapes,
errors); the stand-in is not Rancher, so what only a real Rancher can show is listed in docs/rancher.md.
"""

import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
for path in (ROOT / "playbooks" / "collections", Path(__file__).resolve().parent / "standin"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import rancher_standin  # noqa: E402


TLS_CACHE: list = []


def start(tmp_path: Path, **env: str):
    # One self-signed CA for the whole run: making RSA keys for each test is slow.
    data = tmp_path / "data"
    if TLS_CACHE and not (data / "standin-tls").exists():
        shutil.copytree(TLS_CACHE[0], data / "standin-tls")
    config = rancher_standin.Config(env={"STANDIN_BIND": "127.0.0.1", "STANDIN_HTTP_PORT": "0",
                                         "STANDIN_HTTPS_PORT": "0", "STANDIN_DATA_DIR": str(tmp_path / "data"),
                                         **env}, argv=[])
    servers = rancher_standin.serve(config)
    if not TLS_CACHE and (data / "standin-tls").exists():
        TLS_CACHE.append(tmp_path.parent / "standin-tls-cache")
        shutil.copytree(data / "standin-tls", TLS_CACHE[0], dirs_exist_ok=True)
    return servers


@pytest.fixture
def v2(tmp_path: Path):
    """A Rancher 2.5 stand-in: (https base URL, its CA file, the Api object)."""
    servers = start(tmp_path, STANDIN_MODE="v2")
    url = f"https://127.0.0.1:{servers[0].server_address[1]}"
    ca = tmp_path / "ca.pem"
    ca.write_text(servers[0].api.cacerts)
    yield url, str(ca), servers[0].api
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def v2_factory(tmp_path: Path):
    started = []

    def factory(**env: str):
        servers = start(tmp_path, **env)
        started.extend(servers)
        return f"https://127.0.0.1:{servers[0].server_address[1]}", servers[0].api

    yield factory
    for server in started:
        server.shutdown()
        server.server_close()


@pytest.fixture
def v1(tmp_path: Path):
    servers = start(tmp_path, STANDIN_MODE="v1")
    yield f"http://127.0.0.1:{servers[0].server_address[1]}", servers[0].api
    for server in servers:
        server.shutdown()
        server.server_close()
