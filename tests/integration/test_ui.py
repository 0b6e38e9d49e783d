"""The credit-officer page (Streamlit's AppTest) against a real `bentoml serve`, error paths
included: service down, wrong or missing API key, rejected input."""

from __future__ import annotations

import json
from dataclasses import fields

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from credit_scoring.core.schema import InputSchema
from credit_scoring.core.scorer import SCHEMA_FILE, Scorer
from tests.integration.conftest import API_KEY, Pipeline, free_port
from tests.integration.test_pipeline import applicants, post
from ui.charts import waterfall_rows
from ui.client import ServedField, ServiceClient
from ui.launch import APP

pytestmark = pytest.mark.integration

KEY = API_KEY  # the session's keyed server (conftest)


def page(monkeypatch: pytest.MonkeyPatch, url: str, api_key: str | None = None) -> AppTest:
    monkeypatch.setenv("CREDIT_SERVICE_URL", url)
    if api_key is None:
        monkeypatch.delenv("CREDIT_API_KEY", raising=False)
    else:
        monkeypatch.setenv("CREDIT_API_KEY", api_key)
    app = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not app.exception, app.exception
    return app


def same_fields(specs) -> list[tuple]:
    """The attributes of each field that the UI reads back from the OpenAPI page (those of
    its ServedField but the example), so the schema can gain attributes the page does not
    need (a reason, a protection flag) without breaking the comparison."""
    shared = [f.name for f in fields(ServedField) if f.name != "example"]
    return [tuple(getattr(spec, name) for name in shared) for spec in specs]


def errors(app: AppTest) -> str:
    return "\n".join(e.value for e in app.error)


@pytest.fixture(scope="module")
def scorer(pipeline: Pipeline) -> Scorer:
    return Scorer.load(pipeline.model_dir())


def test_the_form_schema_is_the_stored_schema_read_over_http(pipeline, service_url):
    stored = InputSchema.from_json((pipeline.model_dir() / SCHEMA_FILE).read_text("utf-8"))
    served = ServiceClient(service_url).input_schema()
    assert (served.id_column, served.id_integer) == (stored.id_column, stored.id_integer)
    assert served.tables == stored.tables
    # The same fields, attribute by attribute.
    assert same_fields(served.fields) == same_fields(stored.fields)


@pytest.mark.parametrize("decision", ["granted", "refused"])
def test_scoring_a_reference_client_shows_the_models_answer(
    monkeypatch, service_url, scorer, decision
):
    ids = ServiceClient(service_url).clients()[:200]
    probabilities = scorer.predict_proba(*scorer.reference_rows(ids))
    index = next(
        i for i, p in enumerate(probabilities) if (p >= scorer.threshold) == (decision == "refused")
    )

    app = page(monkeypatch, service_url)
    app.selectbox(key="client_id").set_value(ids[index])
    app.button(key="score_client").click().run()

    assert not app.exception
    assert app.metric[0].value == f"{probabilities[index]:.1%}"
    # The decision is the only red (refused) or green (granted) box on the page.
    shown, other = (app.error, app.success) if decision == "refused" else (app.success, app.error)
    assert len(shown) == 1 and decision.capitalize() in shown[0].value and not other
    # A refusal's principal reasons as an officer writes them; none for a granted applicant.
    letters = [m.value for m in app.markdown if m.value.startswith("1. ")]
    if decision == "refused":
        (lines,) = letters
        assert 1 <= len(lines.splitlines()) <= 4 and "typical of granted applicants" in lines
    else:
        assert not letters


def refused_client(service_url: str, scorer: Scorer) -> int:
    ids = ServiceClient(service_url).clients()[:200]
    probabilities = scorer.predict_proba(*scorer.reference_rows(ids))
    return next(i for i, p in zip(ids, probabilities, strict=True) if p >= scorer.threshold)


def test_an_officer_records_an_override_from_the_page(monkeypatch, service_url, scorer):
    client_id = refused_client(service_url, scorer)
    app = page(monkeypatch, service_url)
    app.selectbox(key="client_id").set_value(client_id)
    app.button(key="score_client").click().run()
    app.text_area(key="override_reason").set_value("Income verified with payslips")
    app.text_input(key="override_officer").set_value("A. Officer")
    app.button(key="record_override").click().run()

    assert not app.exception
    (decision,) = app.error  # the red decision box, and no error
    assert "Refused" in decision.value
    (recorded,) = app.success
    assert "granted by A. Officer" in recorded.value and "refused" in recorded.value


def test_the_fairness_page_says_when_the_model_is_not_audited(monkeypatch, service_url):
    app = page(monkeypatch, service_url)
    app.sidebar.radio(key="view").set_value("Fairness audit").run()
    assert not app.exception
    meta = ServiceClient(service_url).metadata()
    if "fairness" in meta:  # an audited model: its tables are shown
        assert app.dataframe
    else:
        assert "Not audited" in app.warning[0].value
    assert any("/model_card" in m.value for m in app.markdown)


def test_a_new_application_is_sent_in_api_units_and_explained(monkeypatch, service_url, scorer):
    app = page(monkeypatch, service_url)
    app.sidebar.radio(key="mode").set_value("New application").run()
    app.number_input(key="field:DAYS_BIRTH").set_value(40.0)  # shown in years
    app.number_input(key="field:AMT_CREDIT").set_value(500_000.0)
    app.selectbox(key="field:CODE_GENDER").set_value("M")
    app.selectbox(key="field:OCCUPATION_TYPE").set_value("(unknown)")
    app.text_area(key="extra_fields").set_value('{"AMT_ANNUITY": null, "OWN_CAR_AGE": 3}')
    app.button(key="score_application").click().run()

    assert not app.exception and not app.error, errors(app)
    sent = json.loads(app.json[0].value)
    assert sent["DAYS_BIRTH"] == -round(40 * 365.25)
    assert sent["AMT_CREDIT"] == 500_000.0 and sent["CODE_GENDER"] == "M"
    assert sent["AMT_ANNUITY"] is None and sent["OWN_CAR_AGE"] == 3  # JSON fields win
    assert "OCCUPATION_TYPE" not in sent
    # Untouched fields keep the service's example applicant's values (missing ones stay out).
    example = {f.name: f.example for f in ServiceClient(service_url).input_schema().fields}
    for name in ("EXT_SOURCE_1", "EXT_SOURCE_2", "NAME_CONTRACT_TYPE", "AMT_INCOME_TOTAL"):
        assert sent.get(name) == example[name]
    assert any(example[n] is not None for n in ("EXT_SOURCE_1", "EXT_SOURCE_2"))
    expected = scorer.predict_proba(pd.DataFrame.from_records([sent]))[0]
    assert app.metric[0].value == f"{expected:.1%}"


def test_the_waterfall_ends_at_the_models_log_odds(pipeline, service_url, scorer):
    rows_sent = applicants(pipeline, 1, offset=7)
    answer = ServiceClient(service_url).explain(rows_sent)[0]
    rows = waterfall_rows(answer["base_value"], answer["contributions"], top=10)
    assert len(rows) == 11 and rows["step"].iloc[-1].endswith("other features")
    raw = scorer.raw_score(pd.DataFrame(rows_sent))[0]
    assert rows["end"].iloc[-1] == pytest.approx(raw, abs=1e-6)


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ('{"DAYS_BIRTH": 100}', ["**DAYS_BIRTH**", "less than or equal to 0"]),
        ('{"NOT_A_FIELD": 1}', ["**NOT_A_FIELD**", "Extra inputs are not permitted"]),
        ('{"CODE_GENDER": 7}', ["**CODE_GENDER**", "valid string"]),
        ('{"DAYS_BIRTH": ', ["not valid JSON"]),
    ],
)
def test_rejected_input_shows_the_field_and_the_reason(monkeypatch, service_url, extra, expected):
    app = page(monkeypatch, service_url)
    app.sidebar.radio(key="mode").set_value("New application").run()
    app.text_area(key="extra_fields").set_value(extra)
    app.button(key="score_application").click().run()

    assert not app.exception
    assert len(app.error) == 1 and not app.metric
    for text in expected:
        assert text in app.error[0].value


def test_service_down_says_where_it_looked(monkeypatch):
    url = f"http://127.0.0.1:{free_port()}"
    app = page(monkeypatch, url)
    assert "does not answer at " + url in errors(app)
    assert not app.sidebar.radio  # the page stops there


@pytest.mark.parametrize("api_key", [None, "wrong-key"])
def test_missing_or_wrong_api_key_is_reported(monkeypatch, keyed_service_url, api_key):
    app = page(monkeypatch, keyed_service_url, api_key)
    assert "HTTP 401" in errors(app) and "CREDIT_API_KEY" in errors(app)
    assert not app.sidebar.radio


def test_an_override_needs_the_api_key(keyed_service_url):
    body = {"applicant_id": 1, "decision": "granted", "reason": "checked", "officer": "A"}
    assert post(keyed_service_url, "override", body).status_code == 401


def test_the_right_api_key_scores(monkeypatch, keyed_service_url):
    app = page(monkeypatch, keyed_service_url, KEY)
    app.button(key="score_client").click().run()
    assert not app.error, errors(app)
    assert app.metric[0].value.endswith("%")
