# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rancher 1.6 over its /v1 API: the api.host setting and the environment's host registration tokens.
Imported through module_utils/rancher.py."""

import shlex
import time
from typing import Any, Callable, Dict, Mapping, Optional

from ansible_collections.corral.cluster.plugins.module_utils._rancher_client import Client, RancherError


# --- Rancher 1.6: host registration -----------------------------------------------------------


def legacy_registration(client: Client, *, api_host: str, project_id: Optional[str], check_mode: bool,
                        timeout: float = 60.0, interval: float = 2.0,
                        sleep: Callable[[float], None] = time.sleep,
                        clock: Callable[[], float] = time.monotonic) -> Dict[str, Any]:
    """Set api.host (the Host Registration URL) and return an active registration token of the environment."""
    actions = []
    setting = client.get("/v1/settings/api.host")
    if (setting.get("value") or "").rstrip("/") != api_host.rstrip("/"):
        actions.append(f"set api.host to {api_host} (was {setting.get('value') or 'unset'})")
        if not check_mode:
            client.put("/v1/settings/api.host", {"value": api_host})
    base = f"/v2-beta/projects/{project_id}/registrationtokens" if project_id else "/v1/registrationtokens"
    tokens = [t for t in client.get(base, state="active").get("data", []) if t.get("registrationUrl")]
    if tokens and actions:
        # Tokens made before api.host changed still point at the old address.
        tokens = [t for t in tokens if t["registrationUrl"].startswith(api_host.rstrip("/") + "/")]
    if tokens:
        token = tokens[0]
    else:
        actions.append("create a registration token")
        if check_mode:
            return {"changed": True, "actions": actions, "registration": None}
        token = client.post(base, {"type": "registrationToken"})
        deadline = clock() + timeout
        while not (token.get("state") == "active" and token.get("registrationUrl")):
            if clock() >= deadline:
                raise RancherError(f"The registration token {token.get('id')} is still {token.get('state')!r} after "
                                   f"{timeout:g} s.")
            sleep(interval)
            token = client.get(f"{base}/{token['id']}")
    return {
        "changed": bool(actions),
        "actions": actions,
        "registration": {key: token.get(key) for key in ("id", "registrationUrl", "command", "image", "token")},
    }


def legacy_agent_image(registration: Mapping[str, Any], override: str = "") -> str:
    """The rancher/agent image the server asks for (field image, else from the command)."""
    if override:
        return override
    if registration.get("image"):
        return registration["image"]
    words = shlex.split(registration.get("command") or "")
    candidates = [w for w in words if w.split("/")[-1].startswith("agent:")]
    if not candidates:
        raise RancherError("The registration token names no agent image: set the agent image explicitly.")
    return candidates[0]
