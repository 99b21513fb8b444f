"""Tests for bench/ceiling.py: the policies that measure what each layer of dlp-proxy costs."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.ceiling import NEVER_PATH, ceiling_policies, main
from dlp_proxy.core.inspect import Message, decide_by_route
from dlp_proxy.detection.prefilter import PROPER_NOUN_ENTITIES
from dlp_proxy.policy.loader import load_policy

DEFAULT = Path("policies/default.yaml")


def test_the_policies_are_valid_and_in_order(tmp_path: Path) -> None:
    """Addon only, email only, no NER, default: each loads; the last is the policy itself."""
    made = ceiling_policies(DEFAULT, tmp_path)
    assert [p.name for p in made] == ["addon only", "email only", "no NER", "default"]
    assert made[-1].path == DEFAULT
    for policy in made:
        load_policy(policy.path)


def test_addon_only_inspects_nothing_the_load_sends(tmp_path: Path) -> None:
    """Every rule is limited to a path the load never uses: the route decides, no worker."""
    addon_only = load_policy(ceiling_policies(DEFAULT, tmp_path)[0].path)
    default = load_policy(DEFAULT)
    message = Message.for_url("http://127.0.0.1:8080/dlp/addon-only/clean", body=b"{}")
    assert decide_by_route(message, default) is None  # the default policy would inspect it
    decision = decide_by_route(message, addon_only)
    assert decision is not None
    assert not decision.inspected
    assert {rule.paths for rule in addon_only.rules} == {(NEVER_PATH,)}


def test_no_ner_keeps_every_rule_but_the_proper_noun_types(tmp_path: Path) -> None:
    """The rules keep their other entity types; a rule left with none is gone."""
    no_ner = load_policy(ceiling_policies(DEFAULT, tmp_path)[2].path)
    default = load_policy(DEFAULT)
    expected = {
        rule.id: rule.entities - PROPER_NOUN_ENTITIES
        for rule in default.rules
        if rule.entities - PROPER_NOUN_ENTITIES
    }
    assert {rule.id: rule.entities for rule in no_ner.rules} == expected
    assert any(rule.entities & PROPER_NOUN_ENTITIES for rule in default.rules)


def test_email_only_has_one_email_rule(tmp_path: Path) -> None:
    """A clean ticket has no `@`: the worker gets it and asks the analyzer nothing."""
    email_only = load_policy(ceiling_policies(DEFAULT, tmp_path)[1].path)
    assert [rule.entities for rule in email_only.rules] == [frozenset({"EMAIL_ADDRESS"})]


def test_main_rejects_an_unknown_payload(capsys: pytest.CaptureFixture[str]) -> None:
    """Only the small payloads can be chosen; the arguments are checked before anything runs."""
    with pytest.raises(SystemExit) as exit_info:
        main(["--payload", "csv"])
    assert exit_info.value.code == 2
    assert "csv" in capsys.readouterr().err
