"""The first hour (issue 16): a newcomer follows the README in a fresh copy and never hits a wall.

What is cheap here is cheap on purpose: the spec and the program are tested without a render,
and the renders this file needs go through tests/conftest.py's shared cache.
"""

from __future__ import annotations

import pytest

from blueprints.plan.engine import run_program
from blueprints.spec import CONFIG_KEY

SPLUNK_WITHOUT_TOKEN = {
    "name": "first-hour", "tier": "internal", "owner": "ml@example.com", "costCenter": "CC-1",
    "adminCidrs": ["203.0.113.0/24"], "training": {"enabled": False}, "inference": {"enabled": False},
    "siem": {"destination": "splunk", "endpoint": "https://splunk.example.com:8088"},
}


def test_the_program_knows_the_offline_engine_from_a_real_one():
    from blueprints.program import under_offline_engine

    seen = []
    run_program(lambda: seen.append(under_offline_engine()), stack="probe", config={"aws:region": "eu-west-1"},
                secret_keys=[])
    assert seen == [True]
    assert under_offline_engine() is False  # no engine at all: not the offline one


def test_a_missing_siem_token_stops_a_real_pulumi_up_before_any_resource(monkeypatch):
    import json

    import pulumi

    from blueprints import blueprint, program

    config = {"aws:region": "us-east-2", CONFIG_KEY: json.dumps(SPLUNK_WITHOUT_TOKEN)}
    monkeypatch.setattr(program, "under_offline_engine", lambda: False)  # as under `pulumi up`
    monkeypatch.setattr(blueprint, "build", lambda spec: pytest.fail("resources were registered"))
    with pytest.raises(pulumi.RunError) as caught:
        run_program(program.main, stack="first-hour", config=config, secret_keys=[])
    assert "siem.token: required for destination splunk" in str(caught.value)
    assert "pulumi config set --secret --path 'ai-blueprints:blueprint.siem.token' <token>" in str(caught.value)
