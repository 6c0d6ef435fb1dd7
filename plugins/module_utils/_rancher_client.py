# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rancher's API over HTTP: the errors, the transport, the client, Rancher's own CA pinned by its checksum,
and the modules' connection options. Pure Python (standard library only); HTTP goes through a
*transport*, ``(method, url, body, headers, timeout) -> (status, body)``: the modules pass
:func:`ansible_transport`, the unit tests recorded responses. Imported through module_utils/rancher.py."""

import atexit
import hashlib
import json
import os
import re
import socket
import ssl
import tempfile
from typing import Any, Callable, Dict, Mapping, Optional, Tuple
from urllib.parse import urlencode, urlsplit


Transport = Callable[..., tuple]  # (method, url, body, headers, timeout) -> (status, body bytes)


class RancherError(Exception):
    """A problem talking to Rancher, with a message that says what to do."""


class Refused(RancherError):
    """The requested change is refused before anything changed: the message says why."""


class Unauthorized(RancherError):
    """HTTP 401."""


class NotFound(RancherError):
    """HTTP 404."""


class ApiError(RancherError):
    """Any other HTTP error status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class TransportError(RancherError):
    """No HTTP answer: TLS verification failed, timeout, connection refused."""


# --- Transport --------------------------------------------------------------------------------


def ansible_transport(validate_certs: bool = True, ca_path: Optional[str] = None) -> Transport:
    """A transport over ``ansible.module_utils.urls.open_url`` (imported here: the rest needs no Ansible)."""
    from urllib.error import HTTPError, URLError

    from ansible.module_utils.urls import open_url

    try:  # ansible-core 2.16+
        from ansible.module_utils.urls import SSLValidationError
    except ImportError:  # pragma: no cover
        SSLValidationError = ssl.SSLError  # noqa: N806

    def transport(method: str, url: str, body: Optional[bytes], headers: Mapping[str, str], timeout: float):
        try:
            response = open_url(url, data=body, headers=dict(headers), method=method, validate_certs=validate_certs,
                                ca_path=ca_path, timeout=timeout, follow_redirects="safe", use_proxy=False)
            return response.getcode(), response.read()
        except HTTPError as err:
            return err.code, err.read() or b""
        except SSLValidationError as err:
            raise TransportError(tls_message(url, err, ca_path)) from err
        except URLError as err:
            reason = err.reason
            if isinstance(reason, ssl.SSLError):
                raise TransportError(tls_message(url, reason, ca_path)) from err
            if isinstance(reason, (socket.timeout, TimeoutError)):
                raise TransportError(timeout_message(url, timeout)) from err
            raise TransportError(f"Cannot reach Rancher at {url}: {reason}. Is the container running and "
                                 "listening on that address and port?") from err
        except ssl.SSLError as err:
            raise TransportError(tls_message(url, err, ca_path)) from err
        except (socket.timeout, TimeoutError) as err:
            raise TransportError(timeout_message(url, timeout)) from err
        except (ConnectionError, OSError) as err:
            raise TransportError(f"Cannot reach Rancher at {url}: {err}. Is the container running and "
                                 "listening on that address and port?") from err

    return transport


def tls_message(url: str, err: Any, ca_path: Optional[str]) -> str:
    trusted = f"the CA in {ca_path}" if ca_path else "the host's trusted CAs"
    return (f"TLS verification of {url} failed ({err}): its certificate is not signed by {trusted}, or the "
            "address is not among its names. Give the CA that signed Rancher's certificate (ca_path), or, for "
            "Rancher's own self-signed certificate, the sha256 of the CA it serves (ca_checksum).")


def timeout_message(url: str, timeout: float) -> str:
    return (f"Rancher at {url} did not answer within {timeout:g} s: it may still be starting (give it more time: "
            "timeout), or a firewall drops the traffic.")


# --- Client -----------------------------------------------------------------------------------


class Client:
    """Requests to one Rancher server; ``token`` is sent as a bearer token (2.x) or basic auth (1.6 keys)."""

    def __init__(self, url: str, transport: Transport, token: Optional[str] = None,
                 basic_auth: Optional[Tuple[str, str]] = None, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.transport = transport
        self.token = token
        self.basic_auth = basic_auth
        self.timeout = timeout

    def request(self, method: str, path: str, body: Any = None, params: Optional[Mapping[str, Any]] = None,
                auth: bool = True, raw: bool = False) -> Any:
        url = path if path.startswith(("http://", "https://")) else self.url + path
        if params:
            url += ("&" if "?" in url else "?") + urlencode(params)
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if auth and self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        elif auth and self.basic_auth:
            import base64
            pair = f"{self.basic_auth[0]}:{self.basic_auth[1]}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        status, content = self.transport(method, url, data, headers, self.timeout)
        text = content.decode("utf-8", "replace") if isinstance(content, bytes) else str(content or "")
        if status >= 400:
            raise http_error(method, url, status, text, authenticated=bool(auth and (self.token or self.basic_auth)))
        if raw:
            return text
        if not text.strip():
            return {}
        try:
            return json.loads(text)
        except ValueError as err:
            raise RancherError(f"{method} {_redact(url)} answered HTTP {status} with something that is not JSON "
                               f"({text[:120]!r}): is this a Rancher server?") from err

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params or None)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.request("POST", path, body=body if body is not None else {}, **kwargs)

    def put(self, path: str, body: Any) -> Any:
        return self.request("PUT", path, body=body)


def _redact(url: str) -> str:
    """Registration URLs carry the token: keep it out of messages."""
    return re.sub(r"(/v3/import/|/v1/scripts/)[^/?]+", r"\1<token>", url)


def http_error(method: str, url: str, status: int, text: str, authenticated: bool) -> RancherError:
    detail = text.strip()[:200]
    try:
        body = json.loads(text)
        if isinstance(body, dict):
            detail = body.get("message") or body.get("code") or detail
    except ValueError:
        pass
    where = f"{method} {_redact(url)}"
    if status == 401:
        if "localProviders/local" in url:
            return Unauthorized(f"{where}: 401 Unauthorized ({detail}): wrong username or password.")
        hint = ("the API token expired or was deleted: log in again (rerun the play)" if authenticated
                else "this call needs an API token")
        return Unauthorized(f"{where}: 401 Unauthorized ({detail}): {hint}.")
    if status == 403:
        return ApiError(f"{where}: 403 Forbidden ({detail}): the user of this token may not do this; use an admin "
                        "token.", status)
    if status == 404:
        return NotFound(f"{where}: 404 Not Found ({detail}): no such resource; is this the Rancher line you expect "
                        "(1.6 serves /v1, 2.x /v3)?")
    return ApiError(f"{where}: HTTP {status} ({detail}).", status)


def url_host(url: str) -> str:
    return urlsplit(url).hostname or ""


# --- Shared by the modules --------------------------------------------------------------------

CONNECTION_ARGS: Dict[str, dict] = {
    "url": {"type": "str", "required": True},
    "validate_certs": {"type": "bool", "default": True},
    "ca_path": {"type": "path"},
    "ca_checksum": {"type": "str", "no_log": False},
    "timeout": {"type": "float", "default": 30.0},
}

SELF_SIGNED_WARNING = (
    "validate_certs=false: Rancher's TLS certificate is not verified (give ca_checksum, the sha256 of the CA Rancher "
    "serves, to verify its own self-signed certificate, or ca_path)."
)

_CHECKSUM_RE = re.compile(r"^(?:sha256:)?([0-9a-fA-F]{64})$")


# --- Rancher's own CA, pinned by its checksum ---------------------------------------------------


def ca_checksum(cacerts: str) -> str:
    """The sha256 (hex) of the CA as Rancher serves it in the cacerts setting: CATTLE_CA_CHECKSUM of its agents."""
    return hashlib.sha256(cacerts.encode()).hexdigest()


def normalize_checksum(value: str) -> str:
    match = _CHECKSUM_RE.match(str(value or "").strip())
    if not match:
        raise RancherError(f"ca_checksum {value!r} is not a sha256 (64 hex digits, as Rancher's --ca-checksum).")
    return match.group(1).lower()


def pinned_cacerts(url: str, checksum: str, transport: Transport, timeout: float = 30.0) -> str:
    """The CA Rancher serves, refused unless its sha256 is ``checksum``; the way Rancher's agents trust it.

    Read from /v3/settings/cacerts without authentication and over TLS that is not verified yet: no
    credentials are sent, and a CA with another checksum (another server, a man in the middle) is refused.
    Every later request is verified against the CA returned.
    """
    expected = normalize_checksum(checksum)
    setting = Client(url, transport, timeout=timeout).request("GET", "/v3/settings/cacerts", auth=False)
    cacerts = setting.get("value") if isinstance(setting, dict) else None
    if not cacerts:
        raise RancherError(
            f"Rancher at {url} serves no CA of its own (/v3/settings/cacerts is empty: a certificate from a public "
            "CA, --no-cacerts): leave ca_checksum unset and verify against the host's trusted CAs."
        )
    actual = ca_checksum(cacerts)
    if actual != expected:
        raise RancherError(
            f"Rancher at {url} serves a CA whose sha256 is {actual}, not the expected ca_checksum {expected}: another "
            "server answers at that address, or Rancher was reinstalled with a new CA. Nothing was sent to it. If "
            "the new CA is Rancher's, pin its checksum."
        )
    return cacerts


def _private_file(content: str) -> str:
    """A 0600 temporary file holding ``content``, removed when the process exits."""
    descriptor, path = tempfile.mkstemp(prefix="corral-rancher-ca-", suffix=".pem")
    with os.fdopen(descriptor, "w") as handle:
        handle.write(content)
    atexit.register(lambda: os.path.exists(path) and os.unlink(path))
    return path


def client_from_params(params: Mapping[str, Any], token: Optional[str] = None,
                       basic_auth: Optional[tuple] = None) -> Client:
    """A client for the modules' connection options.

    With ca_checksum (and validate_certs), Rancher's own CA is read and pinned first (:func:`pinned_cacerts`), and
    every request is verified against it alone.
    """
    ca_path = params.get("ca_path")
    if params["validate_certs"] and params.get("ca_checksum"):
        if ca_path:
            raise RancherError("Give ca_path (your CA) or ca_checksum (Rancher's own CA), not both.")
        unverified = ansible_transport(validate_certs=False)
        cacerts = pinned_cacerts(params["url"], params["ca_checksum"], unverified, params["timeout"])
        ca_path = _private_file(cacerts)
    transport = ansible_transport(validate_certs=params["validate_certs"], ca_path=ca_path)
    return Client(params["url"], transport, token=token, basic_auth=basic_auth, timeout=params["timeout"])
