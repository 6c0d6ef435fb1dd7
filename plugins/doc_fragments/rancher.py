# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options every module that talks to Rancher's API shares (module_utils/rancher.CONNECTION_ARGS)."""


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  validate_certs:
    description:
      - Verify Rancher's TLS certificate when the URL is HTTPS, against O(ca_path), the CA pinned by
        O(ca_checksum), or else the host's trusted CAs. V(false) skips the verification, and warns.
    type: bool
    default: true
  ca_path:
    description: A CA bundle (PEM) on the host to verify Rancher's certificate with.
    type: path
  ca_checksum:
    description:
      - The sha256 (hex) of the CA Rancher serves (C(/v3/settings/cacerts)), to verify Rancher's own self-signed
        certificate as Rancher's agents do with C(CATTLE_CA_CHECKSUM) (C(--ca-checksum)) - the CA is read first
        without credentials, refused unless its sha256 matches, then every request is verified against it alone.
      - Not with O(ca_path). Ignored with O(validate_certs=false).
    type: str
  timeout:
    description: Seconds to wait for each answer.
    type: float
    default: 30
"""
