"""Shadow sampling: a share of applicants chosen by their id, the same every time; the
shadow's settings refused out of range, with the variable's name."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from credit_scoring.serving.settings import ServingSettings
from credit_scoring.serving.shadow import sampled

IDS = range(100_000, 110_000)


@pytest.mark.parametrize("share", [0.1, 0.5, 0.9])
def test_a_share_draws_about_that_share_of_applicants(share):
    drawn = sum(sampled(i, share) for i in IDS) / len(IDS)
    assert drawn == pytest.approx(share, abs=0.02)


def test_an_applicant_is_always_in_or_out_and_a_larger_share_only_adds_applicants():
    small = {i for i in IDS if sampled(i, 0.2)}
    assert small == {i for i in IDS if sampled(i, 0.2)}
    assert small < {i for i in IDS if sampled(i, 0.6)}


def test_share_one_takes_everyone_and_zero_nobody():
    assert all(sampled(i, 1.0) for i in IDS)
    assert not any(sampled(i, 0.0) for i in IDS)
    assert sampled(None, 1.0)  # an application sent without an id is still compared


def test_the_shadow_can_be_turned_off_and_its_share_is_bounded(monkeypatch):
    monkeypatch.setenv("CREDIT_SHADOW", "off")
    assert ServingSettings().shadow is False
    monkeypatch.setenv("CREDIT_SHADOW_SHARE", "1.5")
    with pytest.raises(ValidationError, match="shadow_share"):
        ServingSettings()
