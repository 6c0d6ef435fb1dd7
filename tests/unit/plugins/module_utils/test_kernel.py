"""The plan of kernel_settings: which modules to load, which parameters differ, the sysctl.d file."""

from ansible_collections.corral.cluster.plugins.module_utils import kernel


def test_a_module_counts_as_active_by_sys_module_or_its_presence_path():
    active = {"/sys/module/overlay", "/proc/sys/net/bridge"}
    assert kernel.modules_to_load(["br_netfilter", "overlay", "ip_vs"], {"br_netfilter": "/proc/sys/net/bridge"},
                                  active.__contains__) == ["ip_vs"]
    assert kernel.modules_to_load(["br_netfilter"], {}, active.__contains__) == ["br_netfilter"]


def test_parameter_names_with_dots_or_slashes_map_to_proc_sys_as_sysctl_does():
    assert kernel.sysctl_path("net.ipv4.ip_forward") == "/proc/sys/net/ipv4/ip_forward"
    # With slashes the dot belongs to the name (a VLAN interface).
    assert kernel.sysctl_path("net/ipv4/conf/eth0.100/forwarding") == "/proc/sys/net/ipv4/conf/eth0.100/forwarding"


def test_only_differing_or_missing_parameters_are_set_and_booleans_become_digits():
    proc = {"/proc/sys/net/ipv4/ip_forward": "1\n", "/proc/sys/net/ipv4/ip_local_port_range": "1024\t65000\n",
            "/proc/sys/vm/overcommit_memory": "0\n"}
    settings = {"net.ipv4.ip_forward": True, "net.ipv4.ip_local_port_range": "1024 65000",
                "vm.overcommit_memory": 1, "vm.panic_on_oom": "off"}
    assert kernel.parameters_to_set(settings, proc.get) == {"vm.overcommit_memory": "1", "vm.panic_on_oom": "0"}


def test_the_sysctl_file_has_one_line_per_parameter_in_order_as_the_sysctl_module_wrote_it():
    # The bytes ansible.posix.sysctl wrote for these settings before: an upgrade rewrites nothing.
    settings = {"net.ipv4.ip_forward": 1, "net.bridge.bridge-nf-call-iptables": "1", "kernel.panic": 10,
                "net.ipv4.tcp_rmem": " 4096 87380 6291456 "}
    assert kernel.sysctl_file_content(settings) == (
        "net.ipv4.ip_forward=1\nnet.bridge.bridge-nf-call-iptables=1\nkernel.panic=10\n"
        "net.ipv4.tcp_rmem=4096 87380 6291456\n")
