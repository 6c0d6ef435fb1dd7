# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options every module that talks to Rancher's API shares (module_utils/rancher.CONNECTION_ARGS)."""


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  validate_certs:
    description:
      - Verify Rancher's TLS certificate when the URL is HTTPS. V(false) is for Rancher's own self-signed
        certificate only, and warns.
    type: bool
    default: true
  ca_path:
    description: A CA bundle (PEM) on the host to verify Rancher's certificate with.
    type: path
  timeout:
    description: Seconds to wait for each answer.
    type: float
    default: 30
"""
