# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cluster PKI's plan: which CAs, certificates and keys the cluster has, with their subjects, SANs,
usages and the hosts that receive them (:func:`certificate_plan`), and the settings they are issued
with. Data only: module_utils/_pki_x509.py makes and reads them, module_utils/pki.py reconciles a
directory with the plan (and re-exports these names)."""

import datetime
from typing import Any, Dict, Iterable, List, Mapping, NamedTuple, Optional, Tuple

try:
    import netaddr
except ImportError:
    # module_utils/_pki_x509.IMPORT_ERROR says so; the module cluster_pki reports it first.
    netaddr = None

KEY_TYPES = ("rsa", "ecdsa")
RSA_KEY_SIZE = 2048  # what every Kubernetes and etcd release accepts
DEFAULT_CA_DAYS = 3650
DEFAULT_CERT_DAYS = 365
DEFAULT_RENEW_BEFORE_DAYS = 30
# Backdated so that a host whose clock lags the controller a little accepts a fresh certificate.
CLOCK_SKEW = datetime.timedelta(minutes=5)
# The PKI lives on the controller, under cluster_state_dir: nothing there is for other users,
# certificates included. Set explicitly (never left to the umask).
KEY_MODE = 0o600
CERT_MODE = 0o600
DIR_MODE = 0o700
SECRET_BYTES = 32  # AES-256 (aescbc) and secretbox keys

# Extended key usages (their OIDs, as cryptography's ExtendedKeyUsageOID has them).
SERVER_AUTH = "1.3.6.1.5.5.7.3.1"
CLIENT_AUTH = "1.3.6.1.5.5.7.3.2"
# Usage profiles: the extended key usages a certificate of each profile carries.
PROFILES = {
    "ca": frozenset(),
    "server": frozenset({SERVER_AUTH}),
    "client": frozenset({CLIENT_AUTH}),
    "peer": frozenset({SERVER_AUTH, CLIENT_AUTH}),
    "keypair": frozenset(),
    "secret": frozenset(),  # a random key, no certificate: the Secrets encryption key
}

CLUSTER_CA = "ca"
ETCD_CA = "etcd/ca"
FRONT_PROXY_CA = "front-proxy-ca"
SERVICE_ACCOUNT_KEY = "sa"
ENCRYPTION_KEY = "secrets-encryption"
# flanneld's client certificates, by flannel store: etcd (etcd CA) or the Kubernetes API (cluster CA).
FLANNEL_STORES = ("etcd", "kubernetes")
FLANNEL_CLIENTS = {"etcd": ("etcd/flannel-client", ETCD_CA), "kubernetes": ("flannel", CLUSTER_CA)}
FLANNEL_USER = "flannel"
NODE = "{node}"  # the host's node name, in the names below

# The clients of the cluster, by certificate name: their user (common name) and groups (organizations).
# The plan issues them with these names; a kubeconfig's user is its certificate's (kubeconfig_user).
CLIENTS = {
    "controller-manager": ("system:kube-controller-manager", ()),
    "scheduler": ("system:kube-scheduler", ()),
    "kube-proxy": ("system:kube-proxy", ("system:node-proxier",)),
    # Not in system:masters: RBAC grants it the kubelet API only (system:kubelet-api-admin).
    "apiserver-kubelet-client": ("kube-apiserver-kubelet-client", ()),
    "apiserver-etcd-client": ("kube-apiserver-etcd-client", ()),
    "front-proxy-client": ("front-proxy-client", ()),
    "etcd/healthcheck-client": ("kube-etcd-healthcheck-client", ()),
    "admin": ("kubernetes-admin", ("system:masters",)),
    f"kubelet-{NODE}": (f"system:node:{NODE}", ("system:nodes",)),
    "flannel": (FLANNEL_USER, ()),
    "etcd/flannel-client": (FLANNEL_USER, ()),
}

# Where the hosts keep the plan's files, by reader (a service, or what a role keeps for its own use):
# (the file under the PKI directory; its name on the host, under the directory the role gives). Which
# hosts get a file is the plan's (CertSpec.hosts); a unit test holds the two together.
HOST_FILES = {
    "etcd": (
        ("etcd/ca.crt", "ca.crt"),
        (f"etcd/server-{NODE}.crt", "server.crt"),
        (f"etcd/server-{NODE}.key", "server.key"),
        (f"etcd/peer-{NODE}.crt", "peer.crt"),
        (f"etcd/peer-{NODE}.key", "peer.key"),
        # etcdctl on the members: health checks, membership, backups.
        ("etcd/healthcheck-client.crt", "healthcheck-client.crt"),
        ("etcd/healthcheck-client.key", "healthcheck-client.key"),
    ),
    "control-plane": tuple((name, name) for name in (
        "ca.crt", "ca.key",  # kube-controller-manager signs the kubelets' CSRs with the cluster CA
        "apiserver.crt", "apiserver.key",
        "apiserver-kubelet-client.crt", "apiserver-kubelet-client.key",
        "apiserver-etcd-client.crt", "apiserver-etcd-client.key",
        "front-proxy-ca.crt", "front-proxy-client.crt", "front-proxy-client.key",
        "sa.pub", "sa.key",
        "etcd/ca.crt",
        "admin.crt", "admin.key",  # the role's health checks (kube-apiserver's /readyz wants a client)
    )),
    "node": (("ca.crt", "ca.crt"),),
    "kubelet-server": ((f"kubelet-server-{NODE}.crt", "kubelet-server.crt"),
                       (f"kubelet-server-{NODE}.key", "kubelet-server.key")),
    "flannel-etcd": (("etcd/ca.crt", "etcd-ca.crt"), ("etcd/flannel-client.crt", "etcd-client.crt"),
                     ("etcd/flannel-client.key", "etcd-client.key")),
}
# The kubeconfigs of each reader: (its name on the host, the plan's client certificate, the service
# that reads it or ""). The certificate and its key are embedded; the user is the certificate's.
KUBECONFIGS = {
    "control-plane": (("controller-manager.conf", "controller-manager", "kube-controller-manager"),
                      ("scheduler.conf", "scheduler", "kube-scheduler"),
                      ("admin.conf", "admin", "")),
    "node": (("kubelet.conf", f"kubelet-{NODE}", "kubelet"), ("kube-proxy.conf", "kube-proxy", "kube-proxy")),
    "flannel-kubernetes": (("kubeconfig", "flannel", "flanneld"),),
}
# Taken by a role into a file of its own, not copied: the Secrets encryption key (the control plane's
# encryption configuration).
EMBEDDED = {"control-plane": ("secrets-encryption.key",)}


def kubeconfig_user(cert: str) -> str:
    """The user of a client certificate of the plan (its common name), for the kubeconfig that embeds it.
    ``cert`` is a certificate name of the plan, a kubelet's with its node name (kubelet-node1)."""
    if cert in CLIENTS:
        return CLIENTS[cert][0]
    if cert.startswith("kubelet-"):  # a kubeconfig embeds a client: kubelet-NODE, not kubelet-server-NODE
        return CLIENTS[f"kubelet-{NODE}"][0].replace(NODE, cert[len("kubelet-"):])
    raise ValueError(f"{cert} is no client certificate of the cluster PKI: no kubeconfig can be made with it")


def host_files(reader: str, node_name: str) -> List[Dict[str, str]]:
    """The plan's files READER reads on the host NODE_NAME: each {src (under the PKI directory), name (on
    the host), mode} - keys 0600, certificates and public keys 0644."""
    if reader not in HOST_FILES:
        raise ValueError(f"{reader} reads no files of the cluster PKI; known readers: {', '.join(HOST_FILES)}")
    return [{"src": src.replace(NODE, node_name), "name": name, "mode": "0600" if name.endswith(".key") else "0644"}
            for src, name in HOST_FILES[reader]]


def host_kubeconfigs(reader: str, node_name: str) -> List[Dict[str, Any]]:
    """The kubeconfigs READER reads on the host NODE_NAME: each {file, cert, user, services}."""
    if reader not in KUBECONFIGS:
        raise ValueError(f"{reader} reads no kubeconfig of the cluster PKI; known readers: {', '.join(KUBECONFIGS)}")
    out = []
    for file, cert, service in KUBECONFIGS[reader]:
        cert = cert.replace(NODE, node_name)
        out.append({"file": file, "cert": cert, "user": kubeconfig_user(cert), "services": [service] if service else []})
    return out


# --- The plan -------------------------------------------------------------------------------


class CertSpec(NamedTuple):
    """One certificate (or, for profile ``keypair``, one bare key pair) of the cluster PKI."""

    name: str  # path under the PKI directory without extension, e.g. etcd/server-node1
    profile: str  # ca, server, client, peer or keypair
    common_name: str = ""
    organizations: Tuple[str, ...] = ()
    issuer: Optional[str] = None  # name of the issuing CA; None for a CA (self-signed) and a key pair
    dns_names: Tuple[str, ...] = ()
    ip_addresses: Tuple[str, ...] = ()
    hosts: Tuple[str, ...] = ()  # inventory hosts that receive the certificate (and a leaf's key)
    ca_key_hosts: Tuple[str, ...] = ()  # for a CA: the hosts that receive its key too (none: it stays here)

    @property
    def key_hosts(self) -> Tuple[str, ...]:
        """The hosts that receive the key: a leaf's (and a key pair's) go with it; a CA's only to ca_key_hosts."""
        return self.ca_key_hosts if self.profile == "ca" else self.hosts

    @property
    def key_file(self) -> str:
        return f"{self.name}.key"

    @property
    def cert_file(self) -> str:
        if self.profile == "secret":
            return self.key_file
        return f"{self.name}.pub" if self.profile == "keypair" else f"{self.name}.crt"

    def as_dict(self) -> Dict[str, Any]:
        return {
            "name": self.name,
            "profile": self.profile,
            "cert_file": self.cert_file,
            "key_file": self.key_file,
            "issuer": self.issuer,
            "common_name": self.common_name,
            "organizations": list(self.organizations),
            "dns_names": list(self.dns_names),
            "ip_addresses": list(self.ip_addresses),
            "hosts": list(self.hosts),
            "key_hosts": list(self.key_hosts),
        }


def apiserver_sans(
    control_plane_nodes: Iterable[Tuple[str, str]],
    service_cidr: str,
    cluster_domain: str,
    extra_sans: Iterable[str] = (),
) -> Tuple[List[str], List[str]]:
    """(DNS names, IP addresses) kube-apiserver is reached at, sorted and without duplicates.

    ``control_plane_nodes`` holds (node name, node IP) pairs; ``extra_sans`` load-balancer or
    other names and addresses, each sorted into IP or DNS by its form.
    """
    kubernetes_service_ip = netaddr.IPNetwork(service_cidr).network + 1
    dns = {
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        f"kubernetes.default.svc.{cluster_domain}",
        "localhost",
    }
    ips = {netaddr.IPAddress(kubernetes_service_ip), netaddr.IPAddress("127.0.0.1")}
    for name, address in control_plane_nodes:
        dns.add(name)
        ips.add(netaddr.IPAddress(address))
    for extra in extra_sans:
        text = str(extra).strip()
        if not text:
            continue
        if netaddr.valid_ipv4(text) or netaddr.valid_ipv6(text):
            ips.add(netaddr.IPAddress(text))
        else:
            dns.add(text.lower())
    return sorted(dns), [str(ip) for ip in sorted(ips)]


def certificate_plan(inventory: Mapping[str, Any]) -> List[CertSpec]:
    """Every CA, certificate and key pair of the cluster, CAs first.

    ``inventory`` is a plain dict: ``groups`` (group -> inventory hostnames), ``hosts``
    (hostname -> ``node_name`` and ``node_ip``) and ``settings`` (``cluster_service_cidr``,
    ``cluster_domain``, and optionally ``apiserver_extra_sans`` and ``flannel_store``: with etcd or
    kubernetes, flanneld on every node gets a client certificate for that store).
    """
    groups = inventory.get("groups", {})
    hosts = inventory.get("hosts", {})
    settings = inventory.get("settings", {})
    etcd = _unique(groups.get("etcd", ()))
    control_plane = _unique(groups.get("kube_control_plane", ()))
    k8s_nodes = _unique([*groups.get("k8s_cluster", ()), *control_plane, *groups.get("kube_node", ())])
    node_name = {host: str(hosts[host].get("node_name") or host) for host in _unique([*etcd, *k8s_nodes])}
    node_ip = {host: str(hosts[host]["node_ip"]) for host in node_name}
    cp = tuple(control_plane)
    flannel_store = settings.get("flannel_store") or ""
    if flannel_store and flannel_store not in FLANNEL_STORES:
        raise ValueError(f"flannel_store '{flannel_store}' is not one of {', '.join(FLANNEL_STORES)}")
    # flanneld on the nodes verifies the etcd members with the etcd CA.
    etcd_ca_hosts = [*etcd, *control_plane, *(k8s_nodes if flannel_store == "etcd" else ())]

    plan = [
        # The cluster CA's certificate goes to every node (kubelets verify clients with it); its key
        # to the control plane, where kube-controller-manager signs kubelet CSRs with it.
        CertSpec(CLUSTER_CA, "ca", "kubernetes", hosts=tuple(k8s_nodes), ca_key_hosts=cp),
        CertSpec(ETCD_CA, "ca", "etcd-ca", hosts=tuple(_unique(etcd_ca_hosts))),
        CertSpec(FRONT_PROXY_CA, "ca", "front-proxy-ca", hosts=cp),
        CertSpec(SERVICE_ACCOUNT_KEY, "keypair", hosts=cp),
        CertSpec(ENCRYPTION_KEY, "secret", hosts=cp),
    ]
    for host in etcd:
        name, address = node_name[host], node_ip[host]
        plan += [
            CertSpec(
                f"etcd/server-{name}",
                "server",
                name,
                issuer=ETCD_CA,
                dns_names=tuple(sorted({name, "localhost"})),
                ip_addresses=tuple(sorted({address, "127.0.0.1"}, key=netaddr.IPAddress)),
                hosts=(host,),
            ),
            CertSpec(
                f"etcd/peer-{name}",
                "peer",
                name,
                issuer=ETCD_CA,
                dns_names=(name,),
                ip_addresses=(address,),
                hosts=(host,),
            ),
        ]
    dns_names, ip_addresses = apiserver_sans(
        [(node_name[host], node_ip[host]) for host in control_plane],
        settings["cluster_service_cidr"],
        settings["cluster_domain"],
        settings.get("apiserver_extra_sans", ()),
    )
    plan += [
        _client("etcd/healthcheck-client", ETCD_CA, tuple(etcd)),
        CertSpec(
            "apiserver",
            "server",
            "kube-apiserver",
            issuer=CLUSTER_CA,
            dns_names=tuple(dns_names),
            ip_addresses=tuple(ip_addresses),
            hosts=cp,
        ),
        _client("apiserver-kubelet-client", CLUSTER_CA, cp),
        _client("apiserver-etcd-client", ETCD_CA, cp),
        _client("front-proxy-client", FRONT_PROXY_CA, cp),
        _client("controller-manager", CLUSTER_CA, cp),
        _client("scheduler", CLUSTER_CA, cp),
        _client("kube-proxy", CLUSTER_CA, tuple(k8s_nodes)),
    ]
    for host in k8s_nodes:
        name, address = node_name[host], node_ip[host]
        plan += [
            _client(f"kubelet-{NODE}", CLUSTER_CA, (host,), name),
            CertSpec(
                f"kubelet-server-{name}",
                "server",
                name,
                issuer=CLUSTER_CA,
                dns_names=(name,),
                ip_addresses=(address,),
                hosts=(host,),
            ),
        ]
    if flannel_store:
        # One identity for flanneld on every node, as upstream's manifest has one service account.
        name, issuer = FLANNEL_CLIENTS[flannel_store]
        plan.append(_client(name, issuer, tuple(k8s_nodes)))
    plan.append(_client("admin", CLUSTER_CA, cp))
    return plan


def _client(name: str, issuer: str, hosts: Tuple[str, ...], node_name: str = "") -> CertSpec:
    """A client certificate of CLIENTS (NODE in its name and user standing for NODE_NAME)."""
    user, organizations = CLIENTS[name]
    return CertSpec(name.replace(NODE, node_name), "client", user.replace(NODE, node_name), organizations,
                    issuer=issuer, hosts=hosts)


def _unique(items: Iterable[str]) -> List[str]:
    return list(dict.fromkeys(items))
