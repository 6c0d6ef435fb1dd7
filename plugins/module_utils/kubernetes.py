# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the Kubernetes components are started with, per release: the one place that knows.

Flags and configuration documents differ between the releases corral.cluster deploys (1.20 in
the lab, 1.35 by default). Every difference is a ``Gate`` below, so the roles' templates hold
no version logic and the unit tests can list, per release, what each component gets.

Settings come from the roles as plain dicts (see each function's docstring); the results are
lists of ``--flag=value`` strings (systemd units) or dicts (YAML configuration files).
"""

from typing import Any, Dict, List, Mapping, Optional, Tuple

from ansible_collections.corral.cluster.plugins.module_utils.version import version_tuple

# The cgroup drivers kubelet, containerd and Docker can share (cluster_cgroup_driver, and the
# docker role's docker_cgroup_driver).
CGROUP_DRIVERS = ("systemd", "cgroupfs")

# Kubernetes files on the hosts (every role and the flags below use these).
CONFIG_DIR = "/etc/kubernetes"
PKI_DIR = f"{CONFIG_DIR}/pki"


def parse_version(version: str) -> Tuple[int, int]:
    """(major, minor) of "1.35.8" or "v1.20.2"."""
    parsed = version_tuple(version)
    if parsed is None:
        raise ValueError(f"'{version}' is not a Kubernetes version (MAJOR.MINOR.PATCH)")
    return parsed[0], parsed[1]


def since(version: str, minor: int) -> bool:
    """True from Kubernetes 1.<minor> on."""
    return parse_version(version) >= (1, minor)


# --- The differences between releases ---------------------------------------------------------
# Each entry: what changed, and the first minor release with the new behaviour.
# - insecure ports: kube-apiserver --insecure-port (must be 0 up to 1.23, gone in 1.24);
#   kube-controller-manager --port (0 disables its plain-HTTP port; gone in 1.24);
#   kube-scheduler --port (gone in 1.23).
INSECURE_PORT_FLAG_GONE = {"kube-apiserver": 24, "kube-controller-manager": 24, "kube-scheduler": 23}
# - kubelet: --container-runtime=remote is needed for a CRI runtime up to 1.23 (dockershim is
#   built in); the flag is gone in 1.27. containerRuntimeEndpoint moved into
#   KubeletConfiguration in 1.27.
KUBELET_DOCKERSHIM_GONE = 24
KUBELET_ENDPOINT_IN_CONFIG = 27
# - KubeletConfiguration.registerWithTaints from 1.23 (the --register-with-taints flag before).
KUBELET_TAINTS_IN_CONFIG = 23
# - KubeSchedulerConfiguration: kubescheduler.config.k8s.io/v1 from 1.25 (v1beta2 1.22-1.24).
SCHEDULER_CONFIG_V1 = 25
# - kube-apiserver reloads the encryption configuration when it changes (1.26 on, GA 1.29).
ENCRYPTION_RELOAD = 29
# - KubeletConfiguration.failCgroupV1 from 1.31; it defaults to true (kubelet refuses a cgroup
#   v1 host) from 1.35.
KUBELET_FAIL_CGROUP_V1_FIELD = 31
# - kubelet translates exec/attach WebSocket streams itself from 1.36 (ExtendWebSocketsToKubelet,
#   beta and on). cri-dockerd (0.4 at least) hands kubelet a streaming URL without a scheme, which
#   the translation takes for https: `kubectl exec` into pods on Docker fails with "server gave
#   HTTP response to HTTPS client" (cri-dockerd issue 569). Kubelets on Docker turn the gate off.
KUBELET_WEBSOCKET_TRANSLATION = 36
# - PodSecurity admission from 1.23 (beta, on by default; GA in 1.25), configured through the
#   admission configuration file; its configuration API is v1 from 1.25 (v1beta1 in 1.23-1.24).
POD_SECURITY = 23
POD_SECURITY_CONFIG_V1 = 25

# - kube-apiserver's --shutdown-send-retry-after from 1.22: on a restart (an upgrade, a renewal, a
#   changed flag) the server answers new requests 429 with Retry-After while the ones in flight end,
#   then closes its connections within 2 s. Without it, its HTTP server waits up to --request-timeout
#   (60 s) for long-running watches that never end by themselves: measured on the lab, every restart
#   took 63 s, 60 of them waiting for the old process to exit.
SHUTDOWN_SEND_RETRY_AFTER = 22

# TLS 1.2 cipher suites of every TLS server of the cluster (kube-apiserver, kube-controller-manager,
# kube-scheduler, kubelet, etcd): ECDHE key exchange with AEAD ciphers only, for ECDSA and RSA
# keys (TLS 1.3 suites are not configurable and all strong). Every release from 1.20 on and etcd
# 3.4 on accept these names.
TLS_CIPHER_SUITES = (
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
)
# Namespaces PodSecurity admission leaves alone by default: the cluster's own components.
POD_SECURITY_EXEMPT_NAMESPACES = ("kube-system",)
ADMISSION_CONFIG = f"{CONFIG_DIR}/admission-config.yaml"


def _flags(values: Mapping[str, Any]) -> List[str]:
    """--name=value for each set value (None drops a flag), sorted for stable units."""
    out = []
    for name in sorted(values):
        value = values[name]
        if value is None:
            continue
        if isinstance(value, bool):
            value = str(value).lower()
        elif isinstance(value, (list, tuple)):
            value = ",".join(str(item) for item in value)
        out.append(f"--{name}={value}")
    return out


def _optional_bool(value: Any) -> Any:
    """None for an unset value (None, "" or "None", as a template may render null), else a bool."""
    if value is None or str(value).strip() in ("", "None"):
        return None
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("true", "yes", "on", "1")


def _merged(flags: dict, extra: Optional[Mapping[str, Any]]) -> List[str]:
    # The user's extra flags win; a None value removes one of ours.
    flags.update(extra or {})
    return _flags(flags)


def _cipher_suites(s: Mapping[str, Any]) -> List[str]:
    return list(s.get("tls_cipher_suites") or TLS_CIPHER_SUITES)


def uses_pod_security(s: Mapping[str, Any]) -> bool:
    """PodSecurity admission is configured (from 1.23 on, unless pod_security is off)."""
    return since(s["version"], POD_SECURITY) and _optional_bool(s.get("pod_security")) is not False


def apiserver_args(s: Mapping[str, Any]) -> List[str]:
    """kube-apiserver flags.

    s: version, advertise_address, secure_port, etcd_servers (list), service_cidr,
    node_port_range, audit_log_path, audit_log_maxage, audit_log_maxbackup, audit_log_maxsize,
    tls_cipher_suites (optional list), pod_security (optional bool, default on), extra_args (dict).
    """
    version = s["version"]
    pki = PKI_DIR
    flags: Dict[str, Any] = {
        "advertise-address": s["advertise_address"],
        "bind-address": "0.0.0.0",
        "secure-port": s["secure_port"],
        "allow-privileged": True,
        "anonymous-auth": False,
        "authorization-mode": ["Node", "RBAC"],
        "enable-admission-plugins": ["NodeRestriction"],
        "client-ca-file": f"{pki}/ca.crt",
        "tls-cert-file": f"{pki}/apiserver.crt",
        "tls-private-key-file": f"{pki}/apiserver.key",
        "kubelet-client-certificate": f"{pki}/apiserver-kubelet-client.crt",
        "kubelet-client-key": f"{pki}/apiserver-kubelet-client.key",
        "kubelet-certificate-authority": f"{pki}/ca.crt",
        "kubelet-preferred-address-types": ["InternalIP", "Hostname", "ExternalIP"],
        "etcd-servers": s["etcd_servers"],
        "etcd-cafile": f"{pki}/etcd/ca.crt",
        "etcd-certfile": f"{pki}/apiserver-etcd-client.crt",
        "etcd-keyfile": f"{pki}/apiserver-etcd-client.key",
        "service-cluster-ip-range": s["service_cidr"],
        "service-node-port-range": s["node_port_range"],
        "service-account-issuer": f"https://kubernetes.default.svc.{s['cluster_domain']}",
        "service-account-key-file": f"{pki}/sa.pub",
        "service-account-signing-key-file": f"{pki}/sa.key",
        "api-audiences": f"https://kubernetes.default.svc.{s['cluster_domain']}",
        "requestheader-client-ca-file": f"{pki}/front-proxy-ca.crt",
        "requestheader-allowed-names": ["front-proxy-client"],
        "requestheader-extra-headers-prefix": "X-Remote-Extra-",
        "requestheader-group-headers": "X-Remote-Group",
        "requestheader-username-headers": "X-Remote-User",
        "proxy-client-cert-file": f"{pki}/front-proxy-client.crt",
        "proxy-client-key-file": f"{pki}/front-proxy-client.key",
        "enable-aggregator-routing": True,
        "encryption-provider-config": f"{CONFIG_DIR}/encryption-config.yaml",
        "audit-policy-file": f"{CONFIG_DIR}/audit-policy.yaml",
        "audit-log-path": s["audit_log_path"],
        "audit-log-maxage": s["audit_log_maxage"],
        "audit-log-maxbackup": s["audit_log_maxbackup"],
        "audit-log-maxsize": s["audit_log_maxsize"],
        "profiling": False,
        "tls-min-version": "VersionTLS12",
        "tls-cipher-suites": _cipher_suites(s),
        # Service account tokens projected into pods expire when they say (an hour by default)
        # instead of being extended to a year for clients that do not reload them.
        "service-account-extend-token-expiration": False,
    }
    if not since(version, INSECURE_PORT_FLAG_GONE["kube-apiserver"]):
        flags["insecure-port"] = 0
    if since(version, ENCRYPTION_RELOAD):
        flags["encryption-provider-config-automatic-reload"] = True
    if since(version, SHUTDOWN_SEND_RETRY_AFTER):
        flags["shutdown-send-retry-after"] = True
    if uses_pod_security(s):
        flags["enable-admission-plugins"] = ["NodeRestriction", "PodSecurity"]
        flags["admission-control-config-file"] = ADMISSION_CONFIG
    return _merged(flags, s.get("extra_args"))


def _component_common(s: Mapping[str, Any], component: str, kubeconfig: str) -> Dict[str, Any]:
    flags: Dict[str, Any] = {
        "kubeconfig": kubeconfig,
        "authentication-kubeconfig": kubeconfig,
        "authorization-kubeconfig": kubeconfig,
        "bind-address": "127.0.0.1",
        "leader-elect": True,
        "profiling": False,
        "tls-min-version": "VersionTLS12",
        "tls-cipher-suites": _cipher_suites(s),
    }
    if not since(s["version"], INSECURE_PORT_FLAG_GONE[component]):
        flags["port"] = 0
    return flags


def controller_manager_args(s: Mapping[str, Any]) -> List[str]:
    """kube-controller-manager flags. s: version, cluster_name, service_cidr, pod_cidr,
    allocate_node_cidrs, node_cidr_mask_size, extra_args."""
    pki = PKI_DIR
    flags = _component_common(s, "kube-controller-manager", f"{CONFIG_DIR}/controller-manager.conf")
    flags.update({
        "cluster-name": s["cluster_name"],
        "client-ca-file": f"{pki}/ca.crt",
        "requestheader-client-ca-file": f"{pki}/front-proxy-ca.crt",
        "root-ca-file": f"{pki}/ca.crt",
        "service-account-private-key-file": f"{pki}/sa.key",
        "cluster-signing-cert-file": f"{pki}/ca.crt",
        "cluster-signing-key-file": f"{pki}/ca.key",
        "service-cluster-ip-range": s["service_cidr"],
        "use-service-account-credentials": True,
        "controllers": ["*", "bootstrapsigner", "tokencleaner"],
        "allocate-node-cidrs": bool(s["allocate_node_cidrs"]),
    })
    if s["allocate_node_cidrs"]:
        flags["cluster-cidr"] = s["pod_cidr"]
        flags["node-cidr-mask-size"] = s["node_cidr_mask_size"]
    return _merged(flags, s.get("extra_args"))


def scheduler_uses_config_file(s: Mapping[str, Any]) -> bool:
    # Before 1.23 the v1beta1 file would reopen the plain-HTTP port that --port=0 closes.
    return since(s["version"], INSECURE_PORT_FLAG_GONE["kube-scheduler"])


def scheduler_args(s: Mapping[str, Any]) -> List[str]:
    """kube-scheduler flags. s: version, extra_args."""
    flags = _component_common(s, "kube-scheduler", f"{CONFIG_DIR}/scheduler.conf")
    if scheduler_uses_config_file(s):
        # The file holds the kubeconfig and leader election.
        flags.update({"config": f"{CONFIG_DIR}/kube-scheduler.yaml", "kubeconfig": None, "leader-elect": None})
    return _merged(flags, s.get("extra_args"))


def scheduler_config(s: Mapping[str, Any]) -> Dict[str, Any]:
    """KubeSchedulerConfiguration (used from 1.23 on). s: version."""
    api = "v1" if since(s["version"], SCHEDULER_CONFIG_V1) else "v1beta2"
    return {
        "apiVersion": f"kubescheduler.config.k8s.io/{api}",
        "kind": "KubeSchedulerConfiguration",
        "clientConnection": {"kubeconfig": f"{CONFIG_DIR}/scheduler.conf"},
        "leaderElection": {"leaderElect": True},
    }


def admission_config(s: Mapping[str, Any]) -> Dict[str, Any]:
    """AdmissionConfiguration of kube-apiserver (used from 1.23 on): PodSecurity admission with
    cluster-wide defaults. s: version, pod_security_enforce, pod_security_audit, pod_security_warn
    (levels: privileged, baseline, restricted), pod_security_exempt_namespaces (list)."""
    if not since(s["version"], POD_SECURITY):
        raise ValueError(f"PodSecurity admission exists from Kubernetes 1.23 on, not in {s['version']}")
    api = "v1" if since(s["version"], POD_SECURITY_CONFIG_V1) else "v1beta1"
    defaults: Dict[str, str] = {}
    for mode in ("enforce", "audit", "warn"):
        defaults[mode] = str(s.get(f"pod_security_{mode}") or "privileged")
        defaults[f"{mode}-version"] = "latest"
    exempt = s.get("pod_security_exempt_namespaces")
    return {
        "apiVersion": "apiserver.config.k8s.io/v1",
        "kind": "AdmissionConfiguration",
        "plugins": [{
            "name": "PodSecurity",
            "configuration": {
                "apiVersion": f"pod-security.admission.config.k8s.io/{api}",
                "kind": "PodSecurityConfiguration",
                "defaults": defaults,
                "exemptions": {
                    "usernames": [],
                    "runtimeClasses": [],
                    "namespaces": sorted(POD_SECURITY_EXEMPT_NAMESPACES if exempt is None else exempt),
                },
            },
        }],
    }


# --- Nodes ---------------------------------------------------------------------------------------

RUNTIME_ENDPOINTS = {
    "containerd": "unix:///run/containerd/containerd.sock",
    # cri-dockerd, the Docker runtime from 1.24 on.
    "docker": "unix:///run/cri-dockerd.sock",
}


def kubelet_uses_dockershim(s: Mapping[str, Any]) -> bool:
    return s["container_runtime"] == "docker" and not since(s["version"], KUBELET_DOCKERSHIM_GONE)


def kubelet_args(s: Mapping[str, Any]) -> List[str]:
    """kubelet flags (the rest is in its KubeletConfiguration). s: version, node_name, node_ip,
    container_runtime, pause_image, extra_args."""
    flags: Dict[str, Any] = {
        "config": "/var/lib/kubelet/config.yaml",
        "kubeconfig": f"{CONFIG_DIR}/kubelet.conf",
        "hostname-override": s["node_name"],
        "node-ip": s["node_ip"],
    }
    if kubelet_uses_dockershim(s):
        flags.update({"container-runtime": "docker", "network-plugin": "cni",
                      "pod-infra-container-image": s["pause_image"]})
    elif not since(s["version"], KUBELET_DOCKERSHIM_GONE):
        flags.update({"container-runtime": "remote",
                      "container-runtime-endpoint": RUNTIME_ENDPOINTS[s["container_runtime"]]})
    elif not since(s["version"], KUBELET_ENDPOINT_IN_CONFIG):
        flags["container-runtime-endpoint"] = RUNTIME_ENDPOINTS[s["container_runtime"]]
    taints = s.get("register_with_taints") or []
    if taints and not since(s["version"], KUBELET_TAINTS_IN_CONFIG):
        flags["register-with-taints"] = [f"{t['key']}={t.get('value', '')}:{t['effect']}" for t in taints]
    return _merged(flags, s.get("extra_args"))


def kubelet_config(s: Mapping[str, Any]) -> Dict[str, Any]:
    """KubeletConfiguration. s: version, container_runtime, cgroup_driver, cluster_dns,
    cluster_domain, rotate_server_certificates, fail_swap_on, fail_cgroup_v1 (optional), max_pods,
    register_with_taints (list of taints), protect_kernel_defaults (optional bool, default on),
    tls_cipher_suites (optional list), extra_config (dict merged last)."""
    pki = PKI_DIR
    config: Dict[str, Any] = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True, "cacheTTL": "2m0s"},
            "x509": {"clientCAFile": f"{pki}/ca.crt"},
        },
        "authorization": {"mode": "Webhook"},
        "readOnlyPort": 0,
        "cgroupDriver": s["cgroup_driver"],
        "clusterDNS": [s["cluster_dns"]],
        "clusterDomain": s["cluster_domain"],
        "failSwapOn": bool(s["fail_swap_on"]),
        "maxPods": int(s["max_pods"]),
        "rotateCertificates": False,
        # kubelet refuses to start unless the kernel settings it needs are set (the prepare role
        # sets them), instead of changing them itself.
        "protectKernelDefaults": _optional_bool(s.get("protect_kernel_defaults")) is not False,
        "tlsMinVersion": "VersionTLS12",
        "tlsCipherSuites": _cipher_suites(s),
        "staticPodPath": f"{CONFIG_DIR}/manifests",
    }
    if s["rotate_server_certificates"]:
        config["serverTLSBootstrap"] = True
    else:
        config["tlsCertFile"] = "/var/lib/kubelet/pki/kubelet-server.crt"
        config["tlsPrivateKeyFile"] = "/var/lib/kubelet/pki/kubelet-server.key"
    if since(s["version"], KUBELET_ENDPOINT_IN_CONFIG):
        config["containerRuntimeEndpoint"] = RUNTIME_ENDPOINTS[s["container_runtime"]]
    if s.get("register_with_taints") and since(s["version"], KUBELET_TAINTS_IN_CONFIG):
        config["registerWithTaints"] = list(s["register_with_taints"])
    if s["container_runtime"] == "docker" and since(s["version"], KUBELET_WEBSOCKET_TRANSLATION):
        config["featureGates"] = {"ExtendWebSocketsToKubelet": False}
    fail_cgroup_v1 = _optional_bool(s.get("fail_cgroup_v1"))
    if fail_cgroup_v1 is not None and since(s["version"], KUBELET_FAIL_CGROUP_V1_FIELD):
        config["failCgroupV1"] = fail_cgroup_v1
    config.update(s.get("extra_config") or {})
    return config


def kube_proxy_config(s: Mapping[str, Any]) -> Dict[str, Any]:
    """KubeProxyConfiguration. s: node_name, node_ip, mode, pod_cidr, conntrack_max_per_core,
    extra_config."""
    config: Dict[str, Any] = {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "clientConnection": {"kubeconfig": f"{CONFIG_DIR}/kube-proxy.conf"},
        "hostnameOverride": s["node_name"],
        "bindAddress": "0.0.0.0",
        "healthzBindAddress": "127.0.0.1:10256",
        "metricsBindAddress": "127.0.0.1:10249",
        "clusterCIDR": s["pod_cidr"],
        "mode": s["mode"],
        "conntrack": {"maxPerCore": int(s["conntrack_max_per_core"])},
    }
    if s["mode"] == "ipvs":
        config["ipvs"] = {"strictARP": True}
    config.update(s.get("extra_config") or {})
    return config


# --- The systemd unit of a component ---------------------------------------------------------------

UNIT_DIR = "/etc/systemd/system"
# kube-apiserver tells systemd when it serves (Type=notify).
_NOTIFY = ("# kube-apiserver tells systemd when it serves: a restart returns only then, so restarting one",
           "# control-plane node at a time never leaves the cluster without an apiserver.")


def unit_file(name: str, unit: Mapping[str, Any], cluster_name: str, header: str) -> str:
    """The unit of the component NAME: its binary in unit["bin_dir"] with unit["args"], one per line,
    after unit["requires"] when given (kubelet after its runtime), Type=notify with unit["start_timeout"]
    for kube-apiserver. HEADER (the ansible_managed comment) comes first."""
    requires = unit.get("requires")
    lines = [header.rstrip("\n"), "[Unit]", f"Description={name} ({cluster_name})",
             f"Documentation=https://kubernetes.io/docs/reference/command-line-tools-reference/{name}/",
             "After=network-online.target" + (f" {requires}" if requires is not None else ""),
             "Wants=network-online.target"]
    if requires:
        lines.append(f"Requires={requires}")
    lines += ["", "[Service]"]
    if name == "kube-apiserver":
        lines += [*_NOTIFY, "Type=notify", f"TimeoutStartSec={unit['start_timeout']}"]
    args = [str(arg) for arg in unit["args"]]
    lines.append(f"ExecStart={unit['bin_dir']}/{name} \\")
    lines += [f"  {arg}" + (" \\" if index < len(args) - 1 else "") for index, arg in enumerate(args)]
    lines += ["Restart=always", "RestartSec=5s", "LimitNOFILE=65536", "", "[Install]", "WantedBy=multi-user.target"]
    return "\n".join(lines) + "\n"


def unit_files(units: Mapping[str, Mapping[str, Any]], cluster_name: str, header: str) -> List[Dict[str, Any]]:
    """distribute_files entries of the units of UNITS (component name -> unit), each restarting its component."""
    return [{"dest": f"{UNIT_DIR}/{name}.service", "services": [name], "mode": "0600", "secret": False,
             "content": unit_file(name, unit, cluster_name, header)} for name, unit in units.items()]
