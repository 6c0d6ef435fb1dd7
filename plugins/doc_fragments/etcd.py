# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options every module that runs etcdctl shares (module_utils/etcd.CONNECTION_ARGS)."""


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  endpoints:
    description: Client URLs of the etcd members to talk to, such as V(https://10.0.0.11:2379).
    type: list
    elements: str
    required: true
  ca_cert:
    description: The etcd CA certificate on the host (C(--cacert)).
    type: path
    required: true
  cert:
    description: A client certificate signed by the etcd CA, on the host (C(--cert)).
    type: path
    required: true
  key:
    description: The key of O(cert), on the host (C(--key)).
    type: path
    required: true
  etcdctl:
    description: Path of C(etcdctl) on the host.
    type: path
    default: /usr/local/bin/etcdctl
requirements:
  - etcdctl 3.4 or later on the host (the role C(corral.cluster.etcd) installs it)
"""
