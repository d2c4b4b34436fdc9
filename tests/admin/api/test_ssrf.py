"""The SSRF guard: internal addresses are refused as written (every spelling) and after
DNS resolution (a table stands in for DNS), unless the operator allows private ones."""

from __future__ import annotations

import pytest
from admin_api_support import PROVIDER, Api, Dns, error_shape

from polyroute.admin.errors import RegistryValidationError
from polyroute.admin.ssrf import check_endpoint

REFUSED = [
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata
    "http://[fd00:ec2::254]/latest/",  # AWS metadata over IPv6
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://127.0.0.1:11434/v1",  # loopback
    "http://localhost.:8000",  # (resolves to loopback through the table below)
    "http://[::1]:8000/v1",
    "http://10.1.2.3/v1", "http://172.16.0.9/v1", "http://192.168.1.20/v1",  # RFC 1918
    "http://[fd12:3456::1]/v1",  # ULA
    "http://[fe80::1%25eth0]/v1",  # link-local with a zone id
    "http://0.0.0.0:8080", "http://[::]/v1",  # unspecified
    "http://224.0.0.1/v1",  # multicast
    "http://100.64.0.1/v1",  # carrier-grade NAT
    "http://2130706433/v1",  # 127.0.0.1 in decimal
    "http://0177.0.0.1/v1",  # ... in octal
    "http://0x7f.1/v1",  # ... in hex, short form
    "http://0xa9fea9fe/",  # 169.254.169.254 in hex
    "http://[::ffff:169.254.169.254]/",  # IPv4-mapped IPv6
    "http://[::ffff:7f00:1]/",  # IPv4-mapped loopback
]


def dns() -> Dns:
    table = Dns()
    table.table.update({
        "localhost": ["127.0.0.1"],
        "internal.corp.example": ["10.0.0.5"],
        "rebind.example": ["93.184.216.34", "169.254.169.254"],  # one bad answer is enough
        "v6.example": ["fd00::1"],
    })
    return table


@pytest.mark.parametrize("url", REFUSED)
def test_internal_addresses_are_refused(url: str) -> None:
    with pytest.raises(RegistryValidationError) as err:
        check_endpoint(url, resolve=dns())
    assert err.value.field == "api_endpoint" and err.value.fix


@pytest.mark.parametrize("host", ["internal.corp.example", "rebind.example", "v6.example",
                                  "localhost"])
def test_names_resolving_to_internal_addresses_are_refused(host: str) -> None:
    with pytest.raises(RegistryValidationError, match="resolves to"):
        check_endpoint(f"https://{host}/v1", resolve=dns())


def test_public_names_and_addresses_pass() -> None:
    check_endpoint("https://api.openai.com/v1", resolve=dns())
    check_endpoint("https://8.8.8.8/v1", resolve=dns())
    check_endpoint("https://[2606:4700::1111]/v1", resolve=dns())


@pytest.mark.parametrize("url", ["ftp://api.example.com", "file:///etc/passwd",
                                 "https://user:pw@api.example.com", "https:///v1",
                                 "https://nowhere.invalid/v1", "not a url"])
def test_other_bad_endpoints(url: str) -> None:
    with pytest.raises(RegistryValidationError):
        check_endpoint(url, resolve=dns())


def test_allow_private_lets_local_servers_in_but_never_metadata() -> None:
    for url in ("http://127.0.0.1:11434/v1", "http://10.1.2.3/v1", "http://[::1]/v1",
                "https://internal.corp.example/v1"):
        check_endpoint(url, allow_private=True, resolve=dns())
    for url in ("http://169.254.169.254/", "http://[fd00:ec2::254]/",
                "http://metadata.google.internal/", "https://rebind.example/"):
        with pytest.raises(RegistryValidationError, match="metadata"):
            check_endpoint(url, allow_private=True, resolve=dns())


def test_the_api_refuses_an_internal_endpoint_with_a_field_error(lite: Api) -> None:
    lite.dns.table["evil.example"] = ["169.254.169.254"]
    r = lite.post("/providers", {**PROVIDER, "api_endpoint": "https://evil.example/v1"})
    assert r.status_code == 422
    error_shape(r.json())
    assert r.json()["error"]["field"] == "api_endpoint"
    assert lite.get("/providers").json()["total"] == 0
    assert lite.post("/providers", PROVIDER).status_code == 201
    r = lite.put("/providers/acme", {"api_endpoint": "http://0x7f000001/"}, if_match='"1"')
    assert r.status_code == 422 and r.json()["error"]["field"] == "api_endpoint"
    assert lite.get("/providers/acme").json()["api_endpoint"] == PROVIDER["api_endpoint"]


def test_templates_applied_are_checked_too(lite: Api) -> None:
    lite.post("/provider-templates", {"identifier": "corp", "provider_config": {
        "provider_type": "openai", "api_endpoint": "http://10.0.0.7/v1"}})
    r = lite.post("/provider-templates/corp/apply", {"identifier": "c1"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "api_endpoint"
