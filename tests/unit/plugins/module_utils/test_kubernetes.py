"""What each Kubernetes component is started with, per release (module_utils/kubernetes.py)."""

from __future__ import annotations

import pytest

from ansible_collections.corral.cluster.plugins.module_utils import kubernetes as k8s

APISERVER = {
    "cluster_domain": "cluster.local",
    "advertise_address": "192.168.56.11",
    "secure_port": 6443,
    "etcd_servers": ["https://192.168.56.11:2379", "https://192.168.56.12:2379"],
    "service_cidr": "10.96.0.0/12",
    "node_port_range": "30000-32767",
    "audit_log_path": "/var/log/kubernetes/audit/audit.log",
    "audit_log_maxage": 30,
    "audit_log_maxbackup": 10,
    "audit_log_maxsize": 100,
}
CONTROLLER_MANAGER = {"cluster_name": "corral", "service_cidr": "10.96.0.0/12", "pod_cidr": "10.244.0.0/16",
                      "allocate_node_cidrs": False, "node_cidr_mask_size": 24}
NODE = {
    "node_name": "node1",
    "node_ip": "192.168.56.11",
    "container_runtime": "containerd",
    "pause_image": "mirror.example.internal/pause:3.10",
    "cgroup_driver": "systemd",
    "cluster_dns": "10.96.0.10",
    "cluster_domain": "cluster.local",
    "rotate_server_certificates": False,
    "fail_swap_on": True,
    "max_pods": 110,
    "register_with_taints": [],
}
TAINT = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}


def flags(args: list[str]) -> dict[str, str]:
    return dict(arg[2:].split("=", 1) for arg in args)


@pytest.mark.parametrize("version", ["1.20.2", "1.35.8"])
def test_apiserver_is_secure_in_every_release(version: str) -> None:
    got = flags(k8s.apiserver_args({"version": version, **APISERVER}))
    assert got["anonymous-auth"] == "false"
    assert got["authorization-mode"] == "Node,RBAC"
    assert got["enable-admission-plugins"].split(",")[0] == "NodeRestriction"
    assert got["encryption-provider-config"] == "/etc/kubernetes/encryption-config.yaml"
    assert got["audit-policy-file"] == "/etc/kubernetes/audit-policy.yaml" and got["audit-log-maxbackup"] == "10"
    assert got["kubelet-certificate-authority"] == "/etc/kubernetes/pki/ca.crt"
    assert got["service-account-issuer"] == "https://kubernetes.default.svc.cluster.local"
    assert got["etcd-servers"] == "https://192.168.56.11:2379,https://192.168.56.12:2379"
    assert got["profiling"] == "false"


def test_the_insecure_port_is_closed_where_it_exists_and_not_named_where_it_is_gone() -> None:
    assert flags(k8s.apiserver_args({"version": "1.20.2", **APISERVER}))["insecure-port"] == "0"
    assert "insecure-port" not in flags(k8s.apiserver_args({"version": "1.24.0", **APISERVER}))
    old_cm = flags(k8s.controller_manager_args({"version": "1.20.2", **CONTROLLER_MANAGER}))
    new_cm = flags(k8s.controller_manager_args({"version": "1.35.8", **CONTROLLER_MANAGER}))
    assert old_cm["port"] == "0" and "port" not in new_cm
    assert flags(k8s.scheduler_args({"version": "1.22.0"}))["port"] == "0"
    assert "port" not in flags(k8s.scheduler_args({"version": "1.23.0"}))


def test_encryption_configuration_reload_only_where_supported() -> None:
    assert "encryption-provider-config-automatic-reload" not in flags(
        k8s.apiserver_args({"version": "1.20.2", **APISERVER}))
    assert flags(k8s.apiserver_args({"version": "1.35.8", **APISERVER}))[
        "encryption-provider-config-automatic-reload"] == "true"


def test_a_restarted_apiserver_sends_retry_after_instead_of_waiting_a_minute_where_supported() -> None:
    assert "shutdown-send-retry-after" not in flags(k8s.apiserver_args({"version": "1.21.14", **APISERVER}))
    assert flags(k8s.apiserver_args({"version": "1.22.0", **APISERVER}))["shutdown-send-retry-after"] == "true"
    assert flags(k8s.apiserver_args({"version": "1.36.4", **APISERVER}))["shutdown-send-retry-after"] == "true"


def test_extra_args_override_and_none_removes_a_flag() -> None:
    got = flags(k8s.apiserver_args({"version": "1.35.8", **APISERVER,
                                    "extra_args": {"v": 2, "profiling": None, "anonymous-auth": True}}))
    assert got["v"] == "2" and "profiling" not in got and got["anonymous-auth"] == "true"


def test_controller_manager_allocates_node_subnets_only_when_asked() -> None:
    off = flags(k8s.controller_manager_args({"version": "1.35.8", **CONTROLLER_MANAGER}))
    on = flags(k8s.controller_manager_args({"version": "1.35.8", **CONTROLLER_MANAGER, "allocate_node_cidrs": True}))
    assert off["allocate-node-cidrs"] == "false" and "cluster-cidr" not in off
    assert on["cluster-cidr"] == "10.244.0.0/16" and on["node-cidr-mask-size"] == "24"
    assert on["use-service-account-credentials"] == "true" and on["leader-elect"] == "true"


def test_scheduler_uses_a_configuration_file_from_1_23_with_the_right_api_version() -> None:
    assert "config" not in flags(k8s.scheduler_args({"version": "1.20.2"}))
    assert flags(k8s.scheduler_args({"version": "1.20.2"}))["leader-elect"] == "true"
    new = flags(k8s.scheduler_args({"version": "1.35.8"}))
    assert new["config"] == "/etc/kubernetes/kube-scheduler.yaml" and "kubeconfig" not in new
    assert k8s.scheduler_config({"version": "1.35.8"})["apiVersion"] == "kubescheduler.config.k8s.io/v1"
    assert k8s.scheduler_config({"version": "1.24.0"})["apiVersion"] == "kubescheduler.config.k8s.io/v1beta2"


@pytest.mark.parametrize(
    "version, runtime, expected",
    [
        ("1.20.2", "containerd", {"container-runtime": "remote",
                                  "container-runtime-endpoint": "unix:///run/containerd/containerd.sock"}),
        ("1.20.2", "docker", {"container-runtime": "docker", "network-plugin": "cni",
                              "pod-infra-container-image": "mirror.example.internal/pause:3.10"}),
        ("1.25.0", "docker", {"container-runtime-endpoint": "unix:///run/cri-dockerd.sock"}),
        ("1.35.8", "containerd", {}),
    ],
)
def test_kubelet_runtime_flags_per_release(version: str, runtime: str, expected: dict) -> None:
    got = flags(k8s.kubelet_args({**NODE, "version": version, "container_runtime": runtime}))
    runtime_flags = {name: value for name, value in got.items()
                     if name in ("container-runtime", "container-runtime-endpoint", "network-plugin",
                                 "pod-infra-container-image")}
    assert runtime_flags == expected
    assert got["hostname-override"] == "node1" and got["node-ip"] == "192.168.56.11"


def test_kubelet_configuration_is_locked_down_and_gets_the_endpoint_from_1_27() -> None:
    old = k8s.kubelet_config({**NODE, "version": "1.20.2"})
    new = k8s.kubelet_config({**NODE, "version": "1.35.8"})
    for config in (old, new):
        assert config["authentication"]["anonymous"] == {"enabled": False}
        assert config["authentication"]["webhook"]["enabled"] is True
        assert config["authorization"] == {"mode": "Webhook"}
        assert config["readOnlyPort"] == 0
        assert config["cgroupDriver"] == "systemd" and config["clusterDNS"] == ["10.96.0.10"]
        assert config["tlsCertFile"] == "/var/lib/kubelet/pki/kubelet-server.crt"
    assert "containerRuntimeEndpoint" not in old
    assert new["containerRuntimeEndpoint"] == "unix:///run/containerd/containerd.sock"


def test_rotated_server_certificates_replace_the_issued_ones() -> None:
    config = k8s.kubelet_config({**NODE, "version": "1.35.8", "rotate_server_certificates": True})
    assert config["serverTLSBootstrap"] is True and "tlsCertFile" not in config


@pytest.mark.parametrize("setting, expected", [
    (None, None), ("", None), ("None", None), (False, False), ("False", False), (True, True), ("true", True)])
def test_cgroup_v1_refusal_is_kubelets_default_unless_set_and_only_where_the_field_exists(setting, expected) -> None:
    new = k8s.kubelet_config({**NODE, "version": "1.36.4", "fail_cgroup_v1": setting})
    assert new.get("failCgroupV1") == expected
    # Kubelets before 1.31 do not know the field.
    assert "failCgroupV1" not in k8s.kubelet_config({**NODE, "version": "1.30.2", "fail_cgroup_v1": setting})


def test_kubelets_on_docker_keep_exec_working_from_1_36() -> None:
    # cri-dockerd's streaming URL has no scheme; kubelet's WebSocket translation takes it for https.
    docker = {**NODE, "container_runtime": "docker"}
    assert k8s.kubelet_config({**docker, "version": "1.36.4"})["featureGates"] == {"ExtendWebSocketsToKubelet": False}
    assert "featureGates" not in k8s.kubelet_config({**docker, "version": "1.35.8"})
    assert "featureGates" not in k8s.kubelet_config({**NODE, "version": "1.36.4"})


def test_control_plane_taint_by_flag_before_1_23_and_in_the_configuration_after() -> None:
    old = {**NODE, "version": "1.20.2", "register_with_taints": [TAINT]}
    new = {**NODE, "version": "1.35.8", "register_with_taints": [TAINT]}
    assert flags(k8s.kubelet_args(old))["register-with-taints"] == "node-role.kubernetes.io/control-plane=:NoSchedule"
    assert "registerWithTaints" not in k8s.kubelet_config(old)
    assert "register-with-taints" not in flags(k8s.kubelet_args(new))
    assert k8s.kubelet_config(new)["registerWithTaints"] == [TAINT]


def test_kube_proxy_configuration_modes_and_conntrack() -> None:
    settings = {"node_name": "node1", "node_ip": "192.168.56.11", "mode": "ipvs", "pod_cidr": "10.244.0.0/16",
                "conntrack_max_per_core": 0}
    config = k8s.kube_proxy_config(settings)
    assert config["mode"] == "ipvs" and config["ipvs"] == {"strictARP": True}
    assert config["conntrack"] == {"maxPerCore": 0} and config["clusterCIDR"] == "10.244.0.0/16"
    assert config["metricsBindAddress"].startswith("127.0.0.1:")
    assert "ipvs" not in k8s.kube_proxy_config({**settings, "mode": "iptables"})


def test_a_version_that_is_not_one_is_refused() -> None:
    with pytest.raises(ValueError, match="not a Kubernetes version"):
        k8s.apiserver_args({"version": "latest", **APISERVER})


# --- Hardening (CIS benchmark) ------------------------------------------------------------------

@pytest.mark.parametrize("version", ["1.20.2", "1.22.17", "1.23.0", "1.36.4"])
def test_strong_tls_cipher_suites_on_every_server_in_every_release(version: str) -> None:
    suites = ",".join(k8s.TLS_CIPHER_SUITES)
    assert flags(k8s.apiserver_args({"version": version, **APISERVER}))["tls-cipher-suites"] == suites
    assert flags(k8s.controller_manager_args({"version": version, **CONTROLLER_MANAGER}))["tls-cipher-suites"] == suites
    assert flags(k8s.scheduler_args({"version": version}))["tls-cipher-suites"] == suites
    assert k8s.kubelet_config({**NODE, "version": version})["tlsCipherSuites"] == list(k8s.TLS_CIPHER_SUITES)
    assert all("GCM" in suite or "CHACHA20" in suite for suite in k8s.TLS_CIPHER_SUITES)
    assert all(suite.startswith("TLS_ECDHE_") for suite in k8s.TLS_CIPHER_SUITES)


def test_cipher_suites_follow_the_setting() -> None:
    mine = ["TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"]
    assert flags(k8s.apiserver_args({"version": "1.36.4", **APISERVER, "tls_cipher_suites": mine}))[
        "tls-cipher-suites"] == mine[0]
    assert k8s.kubelet_config({**NODE, "version": "1.20.2", "tls_cipher_suites": mine})["tlsCipherSuites"] == mine


@pytest.mark.parametrize("version, expected", [("1.20.2", False), ("1.22.17", False), ("1.23.0", True),
                                               ("1.36.4", True)])
def test_pod_security_admission_only_from_1_23(version: str, expected: bool) -> None:
    got = flags(k8s.apiserver_args({"version": version, **APISERVER}))
    assert ("admission-control-config-file" in got) is expected
    assert got["enable-admission-plugins"] == ("NodeRestriction,PodSecurity" if expected else "NodeRestriction")
    if expected:
        assert got["admission-control-config-file"] == "/etc/kubernetes/admission-config.yaml"
    else:
        with pytest.raises(ValueError, match="1.23"):
            k8s.admission_config({"version": version})


def test_pod_security_can_be_turned_off() -> None:
    got = flags(k8s.apiserver_args({"version": "1.36.4", **APISERVER, "pod_security": False}))
    assert "admission-control-config-file" not in got and got["enable-admission-plugins"] == "NodeRestriction"


@pytest.mark.parametrize("version, api", [("1.23.5", "v1beta1"), ("1.24.0", "v1beta1"), ("1.25.0", "v1"),
                                          ("1.36.4", "v1")])
def test_pod_security_configuration_enforces_baseline_and_warns_restricted(version: str, api: str) -> None:
    config = k8s.admission_config({"version": version, "pod_security_enforce": "baseline",
                                   "pod_security_audit": "restricted", "pod_security_warn": "restricted",
                                   "pod_security_exempt_namespaces": ["kube-system"]})
    assert config["apiVersion"] == "apiserver.config.k8s.io/v1" and config["kind"] == "AdmissionConfiguration"
    (plugin,) = config["plugins"]
    assert plugin["name"] == "PodSecurity"
    assert plugin["configuration"]["apiVersion"] == f"pod-security.admission.config.k8s.io/{api}"
    assert plugin["configuration"]["defaults"] == {
        "enforce": "baseline", "enforce-version": "latest", "audit": "restricted", "audit-version": "latest",
        "warn": "restricted", "warn-version": "latest"}
    assert plugin["configuration"]["exemptions"]["namespaces"] == ["kube-system"]


@pytest.mark.parametrize("version", ["1.20.2", "1.36.4"])
def test_projected_service_account_tokens_are_not_extended(version: str) -> None:
    got = flags(k8s.apiserver_args({"version": version, **APISERVER}))
    assert got["service-account-extend-token-expiration"] == "false"


@pytest.mark.parametrize("setting, expected", [(None, True), (True, True), ("true", True), (False, False),
                                               ("false", False)])
def test_kubelet_protects_kernel_defaults_unless_told_not_to(setting, expected) -> None:
    for version in ("1.20.2", "1.36.4"):
        config = k8s.kubelet_config({**NODE, "version": version, "protect_kernel_defaults": setting})
        assert config["protectKernelDefaults"] is expected


# --- the systemd unit of a component ---------------------------------------------------------------

HEADER = "#\n# Ansible managed\n#\n"


def test_the_unit_runs_the_binary_with_one_argument_per_line_and_restarts_always():
    text = k8s.unit_file("kube-scheduler", {"bin_dir": "/usr/local/bin", "args": ["--a=1", "--b=2"]}, "lab", HEADER)
    assert text == (
        "#\n# Ansible managed\n#\n[Unit]\nDescription=kube-scheduler (lab)\n"
        "Documentation=https://kubernetes.io/docs/reference/command-line-tools-reference/kube-scheduler/\n"
        "After=network-online.target\nWants=network-online.target\n\n[Service]\n"
        "ExecStart=/usr/local/bin/kube-scheduler \\\n  --a=1 \\\n  --b=2\n"
        "Restart=always\nRestartSec=5s\nLimitNOFILE=65536\n\n[Install]\nWantedBy=multi-user.target\n")


def test_kube_apiserver_notifies_systemd_and_kubelet_requires_its_runtime():
    apiserver = k8s.unit_file("kube-apiserver", {"bin_dir": "/b", "args": ["--x"], "start_timeout": 180}, "c", HEADER)
    assert "Type=notify\nTimeoutStartSec=180\nExecStart=/b/kube-apiserver \\\n  --x\n" in apiserver
    kubelet = k8s.unit_file("kubelet", {"bin_dir": "/b", "args": ["--x"], "requires": "containerd.service"}, "c", HEADER)
    assert "After=network-online.target containerd.service\nWants=network-online.target\n" \
           "Requires=containerd.service\n" in kubelet
    assert "Type=notify" not in kubelet
    # kube-proxy requires nothing, as deployed clusters' units say it (the space stays: no restart on update).
    proxy = k8s.unit_file("kube-proxy", {"bin_dir": "/b", "args": ["--x"], "requires": ""}, "c", HEADER)
    assert "After=network-online.target \nWants=network-online.target\n\n[Service]" in proxy


def test_unit_files_are_one_entry_per_component_restarting_it():
    entries = k8s.unit_files({"kubelet": {"bin_dir": "/b", "args": []}, "kube-proxy": {"bin_dir": "/b", "args": []}},
                             "c", HEADER)
    assert [(entry["dest"], entry["services"], entry["mode"]) for entry in entries] == [
        ("/etc/systemd/system/kubelet.service", ["kubelet"], "0600"),
        ("/etc/systemd/system/kube-proxy.service", ["kube-proxy"], "0600")]
