"""Contract tests of the Rancher client (plugins/module_utils/rancher.py) against the stand-in server."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import socket
import subprocess
import threading
import time

import pytest

import rancher_cluster_agent_standin
from ansible_collections.corral.cluster.plugins.module_utils import rancher

PASSWORD = "a-final-password-123"


def client(url: str, ca: str | None = None, validate: bool = False, token: str | None = None,
           timeout: float = 10) -> rancher.Client:
    return rancher.Client(url, rancher.ansible_transport(validate_certs=validate, ca_path=ca), token=token,
                          timeout=timeout)


def do_bootstrap(url: str, ca: str, check_mode: bool = False, bootstrap_password: str = "admin", **kwargs):
    return rancher.bootstrap(client(url, ca, validate=True), username="admin", password=PASSWORD,
                             bootstrap_password=bootstrap_password, server_url=kwargs.pop("server_url", url),
                             token_ttl_ms=kwargs.pop("ttl", 60000), token_description="contract test",
                             check_mode=check_mode)


def test_ping_answers_pong(v2):
    url, ca, _unused = v2
    assert client(url, ca, validate=True).request("GET", "/ping", auth=False, raw=True) == "pong"


def test_bootstrap_then_idempotent(v2):
    url, ca, _unused = v2
    first = do_bootstrap(url, ca)
    assert first.changed and not first.already_bootstrapped
    assert first.actions[0] == "replace the first-login password"
    assert first.token.startswith("token-") and first.server_version == "v2.5.16"
    second = do_bootstrap(url, ca)
    assert not second.changed and second.already_bootstrapped and second.actions == []
    assert second.token != first.token  # a new login token, not a change


def test_bootstrap_check_mode_changes_nothing(v2):
    url, ca, api = v2
    result = do_bootstrap(url, ca, check_mode=True)
    assert result.changed and result.actions[0] == "replace the first-login password"
    assert api.state.data["users"]["user-admin1"]["password"] == "admin"
    assert api.state.data["settings"]["server-url"] == ""


def test_bootstrap_sets_a_changed_server_url(v2):
    url, ca, api = v2
    do_bootstrap(url, ca)
    result = do_bootstrap(url, ca, server_url="https://rancher.example.test")
    assert result.changed and result.actions == [f"set server-url to https://rancher.example.test (was {url})"]
    assert api.state.data["settings"]["server-url"] == "https://rancher.example.test"


def test_bootstrap_password_from_env_since_2_6(v2_factory, tmp_path):
    url, api = v2_factory(STANDIN_RANCHER_VERSION="v2.6.14", CATTLE_BOOTSTRAP_PASSWORD="boot-strap-pw")
    assert rancher.first_login_password("v2.6.14", "boot-strap-pw") == "boot-strap-pw"
    assert rancher.first_login_password("v2.5.16", "boot-strap-pw") == "admin"
    result = rancher.bootstrap(client(url), username="admin", password=PASSWORD, bootstrap_password="boot-strap-pw",
                               server_url=url, token_ttl_ms=60000, token_description="t", check_mode=False)
    assert result.changed and result.server_version == "v2.6.14"


def test_wrong_passwords_are_a_clear_401(v2):
    url, ca, _unused = v2
    with pytest.raises(rancher.Unauthorized, match="refused both the admin password and the bootstrap password"):
        do_bootstrap(url, ca, bootstrap_password="not-it")
    with pytest.raises(rancher.Unauthorized, match="401 Unauthorized \\(authentication failed\\): wrong username"):
        rancher.login(client(url, ca, validate=True), "admin", "nope", 1000, "t")


def test_expired_token_is_a_clear_401(v2):
    url, ca, _unused = v2
    result = do_bootstrap(url, ca, ttl=1000)
    api = client(url, ca, validate=True, token=result.token)
    assert api.get("/v3/settings/server-url")["value"] == url
    time.sleep(1.2)
    with pytest.raises(rancher.Unauthorized, match="must authenticate.*token expired or was deleted"):
        api.get("/v3/settings/server-url")


def test_missing_token_is_401_and_unknown_resource_404(v2):
    url, ca, _unused = v2
    with pytest.raises(rancher.Unauthorized, match="needs an API token"):
        client(url, ca, validate=True).get("/v3/clusters")
    token = do_bootstrap(url, ca).token
    with pytest.raises(rancher.NotFound, match="404 Not Found"):
        client(url, ca, validate=True, token=token).get("/v3/clusters/c-nope")


def test_tls_verification_failure_is_explained(v2):
    url, ca, _unused = v2
    with pytest.raises(rancher.TransportError, match="TLS verification of .* failed.*ca_path.*ca_checksum"):
        client(url, validate=True).request("GET", "/ping", auth=False, raw=True)
    # With Rancher's CA the same call works.
    assert client(url, ca, validate=True).request("GET", "/ping", auth=False, raw=True) == "pong"


def pinned(url: str, checksum: str, **params) -> rancher.Client:
    """A client as the modules make it from their connection options."""
    return rancher.client_from_params({"url": url, "validate_certs": True, "ca_path": None, "ca_checksum": checksum,
                                       "timeout": 10, **params})


def test_rancher_own_ca_pinned_by_its_checksum_verifies_every_request(v2):
    url, ca, api = v2
    checksum = hashlib.sha256(api.cacerts.encode()).hexdigest()
    # The checksum Rancher puts in its agents' --ca-checksum is the one the modules take.
    assert rancher.ca_checksum(api.cacerts) == checksum
    client_ = pinned(url, f"sha256:{checksum.upper()}")
    result = rancher.bootstrap(client_, username="admin", password=PASSWORD, bootstrap_password="admin",
                               server_url=url, token_ttl_ms=60000, token_description="t", check_mode=False)
    assert result.changed and result.server_version == "v2.5.16"


def test_a_ca_with_another_checksum_is_refused_before_any_credentials_are_sent(v2):
    url, ca, api = v2
    other = hashlib.sha256(b"some other CA").hexdigest()
    with pytest.raises(rancher.RancherError, match=f"serves a CA whose sha256 is [0-9a-f]{{64}}, not the expected "
                                                   f"ca_checksum {other}"):
        pinned(url, other)
    assert api.state.data["tokens"] == {} and api.state.data["users"]["user-admin1"]["password"] == "admin"
    with pytest.raises(rancher.RancherError, match="is not a sha256"):
        pinned(url, "abc")
    with pytest.raises(rancher.RancherError, match="not both"):
        pinned(url, other, ca_path=ca)


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def test_a_server_that_replays_rancher_ca_with_another_certificate_is_refused(v2, v2_factory, tmp_path):
    # A man in the middle can serve Rancher's cacerts (public) but not a certificate signed by its CA.
    url, ca, api = v2
    ssl_dir = tmp_path / "mitm"
    ssl_dir.mkdir()
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ssl_dir / "ca.key"), "-out",
            str(ssl_dir / "ca.crt"), "-days", "2", "-subj", "/CN=not-rancher")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ssl_dir / "key.pem"), "-out",
            str(ssl_dir / "server.csr"), "-subj", "/CN=rancher")
    (ssl_dir / "ext.cnf").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", str(ssl_dir / "server.csr"), "-CA", str(ssl_dir / "ca.crt"), "-CAkey",
            str(ssl_dir / "ca.key"), "-CAcreateserial", "-out", str(ssl_dir / "cert.pem"), "-days", "2",
            "-extfile", str(ssl_dir / "ext.cnf"))
    (ssl_dir / "cacerts.pem").write_text(api.cacerts)
    mitm_url, mitm = v2_factory(STANDIN_SSL_DIR=str(ssl_dir))
    client_ = pinned(mitm_url, rancher.ca_checksum(api.cacerts))  # the checksum matches: the CA is replayed
    with pytest.raises(rancher.TransportError, match="TLS verification of .* failed"):
        rancher.login(client_, "admin", "admin", 1000, "t")
    assert mitm.state.data["tokens"] == {}


def test_timeout_is_explained():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    accepted = []
    threading.Thread(target=lambda: accepted.append(listener.accept()), daemon=True).start()
    port = listener.getsockname()[1]
    with pytest.raises(rancher.TransportError, match="did not answer within 1 s"):
        client(f"http://127.0.0.1:{port}", timeout=1).request("GET", "/ping", auth=False, raw=True)
    listener.close()


def test_connection_refused_is_explained():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    with pytest.raises(rancher.TransportError, match="Cannot reach Rancher"):
        client(f"http://127.0.0.1:{port}").request("GET", "/ping", auth=False, raw=True)


def test_import_cluster_pending_then_active(v2):
    url, ca, _unused = v2
    token = do_bootstrap(url, ca).token
    api = client(url, ca, validate=True, token=token)
    first = rancher.ensure_cluster(api, name="corral", cluster_type="imported", description="d",
                                   fetch_manifest=True, check_mode=False)
    assert first["changed"] and first["actions"] == ["create the imported cluster corral",
                                                     "create a cluster registration token"]
    assert first["state"] == "pending" and first["cluster_id"].startswith("c-")
    reg = first["registration"]
    assert reg["manifestUrl"] == f"{url}/v3/import/{reg['token']}_{first['cluster_id']}.yaml"
    assert reg["command"] == f"kubectl apply -f {reg['manifestUrl']}"
    assert reg["insecureCommand"] == f"curl --insecure -sfL {reg['manifestUrl']} | kubectl apply -f -"
    for kind in ("Namespace", "ServiceAccount", "ClusterRoleBinding", "Deployment", "Secret"):
        assert f"kind: {kind}\n" in first["manifest"]
    assert "name: cattle-cluster-agent" in first["manifest"] and "name: cattle-system" in first["manifest"]
    again = rancher.ensure_cluster(api, name="corral", cluster_type="imported", description="d",
                                   fetch_manifest=True, check_mode=False)
    assert not again["changed"] and again["registration"] == reg and again["cluster_id"] == first["cluster_id"]
    with pytest.raises(rancher.RancherError, match="still 'pending' after 0.3 s.*cattle-system"):
        rancher.wait_active(api, "corral", timeout=0.3, interval=0.1)
    secret = base64.b64decode(re.search(r'token: "([^"]+)"', first["manifest"]).group(1)).decode()
    with pytest.raises(rancher.Unauthorized):
        client(url, ca, validate=True).request("GET", "/v3/connect/register", auth=False)
    transport = rancher.ansible_transport(True, ca)
    status, _unused = transport("GET", f"{url}/v3/connect/register", None, {"X-API-Tunnel-Token": secret}, 10)
    assert status == 200
    assert rancher.wait_active(api, "corral", timeout=5, interval=0.1)["state"] == "active"


def test_the_cluster_agent_hands_over_the_cluster_credentials(v2):
    """What the cattle-cluster-agent sends on connect is kept as the cluster's tunnel; a malformed
    X-API-Tunnel-Params is refused with 400; the version the agent read becomes the cluster's."""
    url, ca, api_state = v2
    api = client(url, ca, validate=True, token=do_bootstrap(url, ca).token)
    imported = rancher.ensure_cluster(api, name="corral", cluster_type="imported", description="",
                                      fetch_manifest=True, check_mode=False)
    secret = imported["registration"]["token"]
    transport = rancher.ansible_transport(True, ca)
    connect = f"{url}/v3/connect/register"
    bad = base64.b64encode(json.dumps({"cluster": {"address": "10.96.0.1:443"}}).encode()).decode()
    status, body = transport("GET", connect, None, {"X-API-Tunnel-Token": secret, "X-API-Tunnel-Params": bad}, 10)
    assert status == 400 and b"address, token, caCert" in body.replace(b'\\"', b"")
    assert api.get(f"/v3/clusters/{imported['cluster_id']}")["state"] == "pending"
    params = {"cluster": {"address": "10.96.0.1:443", "token": "sa-token",
                          "caCert": base64.b64encode(b"-----BEGIN CERTIFICATE-----").decode()}}
    status, _unused = transport("GET", connect, None, {
        "X-API-Tunnel-Token": secret,
        "X-API-Tunnel-Params": base64.b64encode(json.dumps(params).encode()).decode(),
        "X-Standin-Cluster-Version": json.dumps({"gitVersion": "v1.20.2", "major": "1", "minor": "20"})}, 10)
    assert status == 200
    cluster = rancher.wait_active(api, "corral", timeout=5, interval=0.1)
    assert cluster["kubernetes_version"] == "v1.20.2"
    assert api_state.state.data["clusters"][imported["cluster_id"]]["tunnel"]["token"] == "sa-token"


def test_the_manifest_runs_the_cluster_agent_image_with_the_pinned_ca(v2):
    url, ca, api_state = v2
    api = client(url, ca, validate=True, token=do_bootstrap(url, ca).token)
    manifest = rancher.ensure_cluster(api, name="corral", cluster_type="imported", description="",
                                      fetch_manifest=True, check_mode=False)["manifest"]
    checksum = hashlib.sha256(api_state.cacerts.encode()).hexdigest()
    assert "image: corral.test/rancher-cluster-agent-standin:v2.5.16\n" in manifest
    assert f'value: "{checksum}"' in manifest and "command:" not in manifest
    # The agent reads /v3/settings/cacerts without credentials and pins that CA by its checksum.
    context = rancher_cluster_agent_standin.server_context(url, checksum)
    assert rancher_cluster_agent_standin.get(f"{url}/ping", context) == b"pong"
    with pytest.raises(SystemExit, match="does not match given CATTLE_CA_CHECKSUM"):
        rancher_cluster_agent_standin.server_context(url, "0" * 64)


def test_import_check_mode_creates_nothing(v2):
    url, ca, api_state = v2
    token = do_bootstrap(url, ca).token
    api = client(url, ca, validate=True, token=token)
    result = rancher.ensure_cluster(api, name="corral", cluster_type="imported", description="d",
                                    fetch_manifest=True, check_mode=True)
    assert result["changed"] and result["registration"] is None
    assert [c["name"] for c in api_state.state.data["clusters"].values()] == ["local"]


def test_active_after_polls_mode(v2_factory):
    url, _unused = v2_factory(STANDIN_ACTIVE_AFTER_POLLS="2")
    token = rancher.bootstrap(client(url), username="admin", password=PASSWORD, bootstrap_password="admin",
                              server_url=url, token_ttl_ms=60000, token_description="t", check_mode=False).token
    api = client(url, token=token)
    rancher.ensure_cluster(api, name="polled", cluster_type="imported", description="", fetch_manifest=True,
                           check_mode=False)
    assert rancher.wait_active(api, "polled", timeout=5, interval=0.05)["state"] == "active"


def test_custom_cluster_node_command(v2):
    url, ca, _unused = v2
    token = do_bootstrap(url, ca).token
    api = client(url, ca, validate=True, token=token)
    result = rancher.ensure_cluster(api, name="built", cluster_type="custom", description="", fetch_manifest=False,
                                    check_mode=False)
    assert result["state"] == "provisioning" and result["manifest"] is None
    agent = result["node_agent"]
    assert agent["image"] == "rancher/rancher-agent:v2.5.16" and agent["server"] == url
    assert agent["token"] == result["registration"]["token"] and len(agent["ca_checksum"]) == 64
    assert agent["privileged"] and agent["network_mode"] == "host"
    assert agent["volumes"] == ["/etc/kubernetes:/etc/kubernetes", "/var/run:/var/run"]
    with pytest.raises(rancher.Refused, match="of type custom, not imported"):
        rancher.ensure_cluster(api, name="built", cluster_type="imported", description="", fetch_manifest=False,
                               check_mode=False)


def test_server_version_feeds_the_compatibility_check(v2_factory):
    url, _unused = v2_factory(STANDIN_RANCHER_VERSION="v2.12.3")
    token = rancher.bootstrap(client(url), username="admin", password=PASSWORD, bootstrap_password="admin",
                              server_url=url, token_ttl_ms=60000, token_description="t", check_mode=False).token
    version = client(url, token=token).get("/v3/settings/server-version")["value"]
    assert version == "v2.12.3"
    with pytest.raises(rancher.Refused, match="Use Rancher 2.6 .* or Rancher 2.5"):
        rancher.check_compatibility(version, "1.20.2")


def test_legacy_registration_token(v1):
    url, api = v1
    legacy = rancher.Client(url, rancher.ansible_transport(True))
    assert legacy.request("GET", "/ping", auth=False, raw=True) == "pong"
    checked = rancher.legacy_registration(legacy, api_host="http://10.0.0.5:8080", project_id=None, check_mode=True)
    assert checked["changed"] and checked["registration"] is None and api.state.data["v1tokens"] == {}
    result = rancher.legacy_registration(legacy, api_host="http://10.0.0.5:8080", project_id=None, check_mode=False,
                                         interval=0.05)
    reg = result["registration"]
    assert result["actions"] == ["set api.host to http://10.0.0.5:8080 (was unset)", "create a registration token"]
    assert reg["registrationUrl"] == f"http://10.0.0.5:8080/v1/scripts/{reg['token']}"
    assert reg["command"].endswith(f"rancher/agent:v1.2.11 {reg['registrationUrl']}")
    assert rancher.legacy_agent_image(reg) == "rancher/agent:v1.2.11"
    again = rancher.legacy_registration(legacy, api_host="http://10.0.0.5:8080", project_id="1a5", check_mode=False)
    assert not again["changed"] and again["registration"] == reg
    script = legacy.request("GET", f"/v1/scripts/{reg['token']}", auth=False, raw=True)
    assert 'CATTLE_URL="http://10.0.0.5:8080/v1"' in script
