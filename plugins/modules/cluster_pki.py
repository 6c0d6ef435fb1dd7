# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: cluster_pki
short_description: Issue the certificates of a corral.cluster cluster into a directory, idempotently
description:
  - Computes the cluster PKI from the inventory groups and each host's node name and IP, and brings the directory
    O(path) in line with it - three CAs (C(ca), C(etcd/ca), C(front-proxy-ca)), the service-account key pair
    (C(sa.key), C(sa.pub)) and every leaf certificate (etcd server and peer per member, kube-apiserver and its
    clients, controller manager, scheduler, kube-proxy, a client and a serving certificate per kubelet, admin).
  - Runs on the controller, in its own process (an action plugin), whichever host the task runs for; the role
    C(corral.cluster.pki) runs it once (C(run_once)). Copying the files to the hosts is left to the roles that use
    them.
  - Never regenerates what is still good. A key is kept while it parses and is of the type O(key_type). A certificate
    is kept while it matches its key, is signed by its current CA, does not expire within O(renew_before_days) and
    has the subject, SANs and extended key usages of the plan. Anything else is reissued, with the existing key when
    that key is good, and the reason is returned. A CA renewed with its key leaves what it signed valid.
  - Keys are written 0600, certificates 0644, directories 0700, each file atomically.
  - With O(state=check) only reports the expiry of every certificate found under O(path) and never writes.
  - Normally used through the role C(corral.cluster.pki).
version_added: "0.1.0"
requirements:
  - cryptography >= 42 (on the controller)
  - netaddr
options:
  path:
    description: The PKI directory on the controller. Created (0700) when missing.
    type: path
    required: true
  state:
    description:
      - V(present) issues what is missing, due or different from the plan.
      - V(check) only reports the expiry of every certificate found; the other options are then ignored.
    type: str
    choices: [present, check]
    default: present
  groups:
    description:
      - Inventory groups and their hosts, as the C(groups) variable holds them.
      - The groups C(etcd), C(kube_control_plane), C(kube_node) and C(k8s_cluster) are read.
      - Required with O(state=present).
    type: dict
  hosts:
    description:
      - For each inventory host of those groups, its C(node_name) and C(node_ip) (the facts C(cluster_node_name) and
        C(cluster_node_ip) set by the role C(corral.cluster.preflight)).
      - Required with O(state=present).
    type: dict
  service_cidr:
    description: The Service network (C(cluster_service_cidr)); its first address is a SAN of kube-apiserver.
    type: str
  cluster_domain:
    description: The cluster DNS domain (C(cluster_domain)), for the SAN C(kubernetes.default.svc.<domain>).
    type: str
    default: cluster.local
  apiserver_extra_sans:
    description:
      - More names and addresses kube-apiserver is reached at, such as a load balancer; each entry is taken as an IP
        SAN when it is an address, else as a DNS SAN.
    type: list
    elements: str
    default: []
  flannel_store:
    description:
      - With V(etcd), a client certificate of flanneld for etcd (C(etcd/flannel-client), CN C(flannel), signed by the
        etcd CA); with V(kubernetes), one for the Kubernetes API (C(flannel), CN C(flannel), signed by the cluster CA).
        Both go to every node. V("") when flannel is not the pod network.
    type: str
    choices: ["", etcd, kubernetes]
    default: ""
  ca_days:
    description: Validity of a newly issued CA certificate, in days.
    type: int
    default: 3650
  cert_days:
    description: Validity of a newly issued leaf certificate, in days (never beyond its CA's).
    type: int
    default: 365
  renew_before_days:
    description: Reissue a certificate that expires within this many days.
    type: int
    default: 30
  renew_issued_before:
    description:
      - Renewal on request. Every leaf certificate (not the CAs) issued before this time is reissued with its key.
      - A time in UTC, V(2026-12-03T08:00:00Z), V(2026-12-03 08:00:00) or V(2026-12-03); not in the future.
        Certificates issued by the run that renews them are issued after it, so a later run with the same value
        keeps them.
      - V("") (the default) renews on expiry only (O(renew_before_days)).
    type: str
    default: ""
  key_type:
    description:
      - Type of newly generated keys. V(rsa) is RSA 2048, which every Kubernetes and etcd release accepts; V(ecdsa) is
        ECDSA P-256.
      - Changing it replaces every key (and so every certificate) on the next run.
    type: str
    choices: [rsa, ecdsa]
    default: rsa
extends_documentation_fragment:
  - action_common_attributes
  - corral.cluster.attributes
attributes:
  check_mode:
    details: Reports what would be created or renewed and writes nothing.
seealso:
  - module: community.crypto.x509_certificate
author:
  - corral.cluster maintainers (@corral)
"""

EXAMPLES = r"""
- name: Issue the cluster certificates on the controller
  corral.cluster.cluster_pki:
    path: "{{ cluster_state_dir }}/pki"
    groups: "{{ groups }}"
    hosts: >-
      {{ dict(groups['all'] | zip(groups['all'] | map('extract', hostvars) | map(attribute='cluster_node_name')
         | map('community.general.dict_kv', 'node_name'))) }}
    service_cidr: "{{ cluster_service_cidr }}"
    cluster_domain: "{{ cluster_domain }}"
    apiserver_extra_sans: [k8s.example.com, 192.168.56.100]
  delegate_to: localhost
  run_once: true
  become: false

- name: Report the expiry of every certificate
  corral.cluster.cluster_pki:
    path: "{{ cluster_state_dir }}/pki"
    state: check
  delegate_to: localhost
  run_once: true
  become: false
  register: pki_expiry
"""

RETURN = r"""
created:
  description: Certificate (or public key) files issued where there was none, relative to O(path).
  returned: state is present
  type: list
  elements: str
  sample: [ca.crt, etcd/server-node1.crt]
renewed:
  description: Certificate files reissued, each with the reasons.
  returned: state is present
  type: list
  elements: dict
  contains:
    file:
      description: The certificate file, relative to O(path).
      type: str
      sample: apiserver.crt
    reasons:
      description: Why it was reissued.
      type: list
      elements: str
      sample: ["its IP SANs changed from [10.0.0.1, 10.96.0.1, 127.0.0.1] to [10.0.0.1, 10.0.0.2, 10.96.0.1, 127.0.0.1]"]
permissions_fixed:
  description: Existing key files whose mode was not 0600 and was set to it.
  returned: state is present
  type: list
  elements: str
certificates:
  description: The plan - every CA, certificate and key pair, with the hosts that receive it. No key material.
  returned: state is present
  type: list
  elements: dict
  contains:
    name:
      description: Path under O(path) without extension.
      type: str
      sample: etcd/peer-node1
    profile:
      description: >-
        V(ca), V(server), V(client), V(peer) (server and client), V(keypair) (C(sa)) or V(secret)
        (C(secrets-encryption), the random key that encrypts Secrets at rest, created once and never replaced).
      type: str
    cert_file:
      description: The certificate (for V(keypair), the public key; for V(secret), the key) file.
      type: str
    key_file:
      description: The private key file.
      type: str
    issuer:
      description: Name of the issuing CA; null for a CA and the key pair.
      type: str
    common_name:
      description: Subject CN.
      type: str
    organizations:
      description: Subject O entries.
      type: list
      elements: str
    dns_names:
      description: DNS SANs.
      type: list
      elements: str
    ip_addresses:
      description: IP SANs.
      type: list
      elements: str
    hosts:
      description: Inventory hosts that receive the certificate (for a leaf, its key too).
      type: list
      elements: str
expiry:
  description: Every certificate found under O(path), by file name.
  returned: state is check
  type: list
  elements: dict
  contains:
    file:
      description: Relative to O(path).
      type: str
      sample: apiserver.crt
    common_name:
      description: Subject CN (for an unreadable file, why).
      type: str
      sample: kube-apiserver
    not_after:
      description: End of validity, ISO 8601 in UTC; null when unreadable.
      type: str
      sample: "2027-11-22T02:35:11+00:00"
    days_left:
      description: Whole days until then (negative once expired); null when unreadable.
      type: int
      sample: 364
"""

import datetime
import traceback
from typing import Optional

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

try:
    from ansible_collections.corral.cluster.plugins.module_utils import pki
except ImportError:
    pki = None
    PKI_IMPORT_ERROR = traceback.format_exc()
else:
    PKI_IMPORT_ERROR = pki.IMPORT_ERROR  # cryptography or netaddr missing

ARGUMENT_SPEC = {
    "path": {"type": "path", "required": True},
    "state": {"type": "str", "choices": ["present", "check"], "default": "present"},
    "groups": {"type": "dict"},
    "hosts": {"type": "dict"},
    "service_cidr": {"type": "str"},
    "cluster_domain": {"type": "str", "default": "cluster.local"},
    "apiserver_extra_sans": {"type": "list", "elements": "str", "default": []},
    "flannel_store": {"type": "str", "choices": ["", "etcd", "kubernetes"], "default": ""},
    "ca_days": {"type": "int", "default": 3650},
    "cert_days": {"type": "int", "default": 365},
    "renew_before_days": {"type": "int", "default": 30},
    "renew_issued_before": {"type": "str", "default": ""},
    "key_type": {"type": "str", "choices": ["rsa", "ecdsa"], "default": "rsa"},
}


def plan_from_params(params: dict) -> list:
    """The plan for the module arguments."""
    return pki.certificate_plan(
        {
            "groups": params["groups"],
            "hosts": params["hosts"],
            "settings": {
                "cluster_service_cidr": params["service_cidr"],
                "cluster_domain": params["cluster_domain"],
                "apiserver_extra_sans": params["apiserver_extra_sans"],
                "flannel_store": params.get("flannel_store") or "",
            },
        }
    )


def missing_hosts(params: dict) -> list:
    """Hosts of the PKI groups without a node IP among O(hosts)."""
    wanted = ("etcd", "kube_control_plane", "kube_node", "k8s_cluster")
    hosts = params["hosts"]
    members = dict.fromkeys(host for group in wanted for host in params["groups"].get(group) or ())
    return [host for host in members if not (hosts.get(host) or {}).get("node_ip")]


def renew_issued_before(module: AnsibleModule) -> Optional[datetime.datetime]:
    """O(renew_issued_before) as a time, None when empty; fails on a bad or future time."""
    try:
        return pki.renewal_time(module.params["renew_issued_before"], datetime.datetime.now(datetime.timezone.utc))
    except ValueError as error:
        module.fail_json(msg=f"renew_issued_before: {error}.")
        raise  # fail_json exits; for type checkers


def run(module: AnsibleModule) -> dict:
    params = module.params
    if params["state"] == "check":
        return {"changed": False, "expiry": [row.as_dict() for row in pki.expiry_report(params["path"])]}
    missing = missing_hosts(params)
    if missing:
        module.fail_json(
            msg=f"Hosts {', '.join(missing)} have no node_ip in the hosts option: pass each host's cluster_node_ip "
            "(set by the role corral.cluster.preflight; run it first)."
        )
    plan = plan_from_params(params)
    options = pki.Options(
        ca_days=params["ca_days"],
        cert_days=params["cert_days"],
        renew_before_days=params["renew_before_days"],
        key_type=params["key_type"],
        renew_issued_before=renew_issued_before(module),
    )
    try:
        changes = pki.reconcile(params["path"], plan, options, write=not module.check_mode)
    except ValueError as error:
        module.fail_json(msg=str(error))
    return {
        "changed": changes.changed,
        "created": changes.created,
        "renewed": changes.renewed,
        "permissions_fixed": changes.permissions_fixed,
        "certificates": [spec.as_dict() for spec in plan],
    }


REQUIRED_IF = [("state", "present", ("groups", "hosts", "service_cidr"))]


def refusal(params: dict) -> Optional[str]:
    """Why the validity periods cannot be used, or None."""
    for option in ("ca_days", "cert_days"):
        if params[option] < 1:
            return f"{option} must be at least 1 (days), not {params[option]}."
    if not 0 <= params["renew_before_days"] < params["cert_days"]:
        return (f"renew_before_days ({params['renew_before_days']}) must be from 0 to less than cert_days "
                f"({params['cert_days']}), or every run would reissue every certificate.")
    return None


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, required_if=REQUIRED_IF, supports_check_mode=True)
    if PKI_IMPORT_ERROR:
        module.fail_json(msg=missing_required_lib("cryptography and netaddr"), exception=PKI_IMPORT_ERROR)
    refused = refusal(module.params)
    if refused:
        module.fail_json(msg=refused)
    module.exit_json(**run(module))


if __name__ == "__main__":
    main()
