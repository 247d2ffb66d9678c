"""The outbound host policy: pure matching of names and addresses."""

from __future__ import annotations

import pydantic
import pytest

from interlock_core.model import ProjectConfig
from interlock_core.outbound import HostPolicy, OutboundRefused


@pytest.mark.parametrize("address", ["169.254.169.254", "169.254.0.1", "fe80::1", "FE80::abcd%eth0",
                                     "::ffff:169.254.169.254", "fd00:ec2::254", "100.100.100.200"])
def test_link_local_and_metadata_addresses_are_always_refused(address: str) -> None:
    policy = HostPolicy(allow=["0.0.0.0/0", "::/0"])
    with pytest.raises(OutboundRefused, match="never reachable"):
        policy.check_address("jobs.example.com", address)
    with pytest.raises(OutboundRefused, match="never reachable"):
        policy.check_host(address)


def test_metadata_names_are_refused_before_resolution() -> None:
    for host in ("metadata.google.internal", "Metadata.Google.Internal."):
        with pytest.raises(OutboundRefused):
            HostPolicy().check_host(host)


def test_deny_hosts_by_name_suffix_address_and_network() -> None:
    policy = HostPolicy(deny=["internal.example.com", "*.corp.example", "10.0.0.0/8", "192.168.1.5"])
    for host in ("internal.example.com", "INTERNAL.example.com.", "db.corp.example", "a.b.corp.example"):
        with pytest.raises(OutboundRefused, match="denyHosts"):
            policy.check_host(host)
    policy.check_host("corp.example")  # *.corp.example names the subdomains only
    for address in ("10.1.2.3", "192.168.1.5", "::ffff:10.0.0.1"):
        with pytest.raises(OutboundRefused, match="denyHosts"):
            policy.check_address("jobs.example.com", address)
    policy.check_address("jobs.example.com", "192.168.1.6")


def test_allow_hosts_refuse_everything_else() -> None:
    policy = HostPolicy(allow=["jobs.example.com", "*.orchestrator.example", "10.20.0.0/16"])
    policy.check_address("jobs.example.com", "203.0.113.7")
    policy.check_address("eu.orchestrator.example", "203.0.113.8")
    policy.check_address("anything.example", "10.20.3.4")
    for host, address in (("other.example", "203.0.113.7"), ("203.0.113.7", "203.0.113.7")):
        with pytest.raises(OutboundRefused, match="allowHosts"):
            policy.check_address(host, address, named=host != address)
    HostPolicy().check_address("anything.example", "127.0.0.1")  # no allow list: all but the denied


def test_project_config_validates_the_lists() -> None:
    config = ProjectConfig.model_validate({"outbound": {"allowHosts": ["jobs.example.com", "*.corp.example",
                                                                       "10.0.0.0/8", "[::1]"]},
                                           "api": {"allowedEnv": ["ORCH_TEAM", "_X1"]}})
    assert config.outbound.allow_hosts[0] == "jobs.example.com"
    assert config.api.allowed_env == ["ORCH_TEAM", "_X1"]
    for bad in ({"outbound": {"denyHosts": ["http://x.example/"]}}, {"outbound": {"allowHosts": ["a b"]}},
                {"api": {"allowedEnv": ["1BAD"]}}, {"api": {"allowedEnv": ["A-B"]}}):
        with pytest.raises(pydantic.ValidationError):
            ProjectConfig.model_validate(bad)
