import base64

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.corral.cluster.plugins.filter.kubernetes import kubeconfig


def test_a_kubeconfig_embeds_the_ca_and_the_identity_from_the_pki_dir(tmp_path):
    for name, text in {"ca.crt": "CA PEM", "admin.crt": "CERT PEM\n\n", "admin.key": "KEY PEM"}.items():
        (tmp_path / name).write_text(text)
    config = yaml.safe_load(yaml.safe_dump(kubeconfig("kubernetes-admin", "corral", "https://127.0.0.1:6444",
                                                      str(tmp_path), "admin")))
    cluster = config["clusters"][0]
    assert cluster == {"name": "corral", "cluster": {"server": "https://127.0.0.1:6444",
                                                     "certificate-authority-data": base64.b64encode(b"CA PEM\n").decode()}}
    user = config["users"][0]["user"]
    assert base64.b64decode(user["client-certificate-data"]) == b"CERT PEM\n"
    assert base64.b64decode(user["client-key-data"]) == b"KEY PEM\n"
    assert config["current-context"] == "kubernetes-admin@corral"


def test_a_missing_certificate_names_the_file_and_the_role_that_issues_it(tmp_path):
    (tmp_path / "ca.crt").write_text("CA PEM")
    with pytest.raises(AnsibleFilterError, match=r"kube-proxy: cannot read .*/kube-proxy\.crt .*the pki role"):
        kubeconfig("system:kube-proxy", "corral", "https://127.0.0.1:6444", str(tmp_path), "kube-proxy")
