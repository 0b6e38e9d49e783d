"""credit-scoring: one command line for every stage (generate, train, promote, switch,
rollback, serve, drift, overrides, verify, erase, retention, outcomes, compare, performance,
ui, load-test, example-tables). It parses options and calls the parts; a known failure (bad
data, no champion, unknown run, missing or bad model, a broken decision record) prints one
``error: ...`` line and exits with status 1.

Paths resolve from the home folder: ``--home``, else ``CREDIT_HOME``, else the working
directory (never the package's folder). ``ui`` and ``load-test`` are tools of the repository,
outside the installed package: they run from a checkout's folder only."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, cast

import typer

if TYPE_CHECKING:
    from credit_scoring.core.models import Family

app = typer.Typer(add_completion=False, help=__doc__, no_args_is_help=True, rich_markup_mode=None)
# Options passed through untouched to a tool's own command line, --help included.
PASS_THROUGH = {"allow_extra_args": True, "ignore_unknown_options": True}
SERVICE = "credit_scoring.serving.service:CreditScoring"
if TYPE_CHECKING:
    from credit_scoring.core.points import PointsScale
    from credit_scoring.pipeline.registry import Move


def _known_errors() -> tuple[type[Exception], ...]:
    """Failures a user can act on; anything else is a bug and keeps its traceback. Imported
    here, once a command runs, so that ``--help`` stays fast."""
    from bentoml.exceptions import NotFound
    from mlflow.exceptions import MlflowException
    from pydantic import ValidationError

    from credit_scoring.core.dataset import DataError
    from credit_scoring.core.scorer import ModelBundleError
    from credit_scoring.pipeline.promote import PromoteError

    return (
        DataError,
        PromoteError,
        ModelBundleError,
        NotFound,
        MlflowException,
        ValidationError,
    )


def _one_line(error: Exception) -> str:
    from pydantic import ValidationError

    if isinstance(error, ValidationError):  # a bad CREDIT_* variable: name it and say why
        return "; ".join(
            f"CREDIT_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in error.errors()
        )
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


@contextmanager
def _errors_in_one_line(*also: type[Exception]) -> Iterator[None]:
    try:
        yield
    except Exception as error:
        # ``also`` first: a command that names its errors spares itself _known_errors' imports.
        if not isinstance(error, also) and not isinstance(error, _known_errors()):
            raise
        typer.echo(f"error: {_one_line(error)}", err=True)
        raise typer.Exit(1) from None


@app.callback()
def main(
    home: Path = typer.Option(
        None,
        help="Home folder: data/, mlflow/, logs/, reports/ go under it "
        "[env CREDIT_HOME; default: the working directory]",
    ),
    verbose: bool = typer.Option(True, help="Progress lines (INFO logging)"),
) -> None:
    """Set the home folder for this command and the processes it starts."""
    if home is not None:
        os.environ["CREDIT_HOME"] = str(home.expanduser().resolve())
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(message)s",
        datefmt="%H:%M:%S",
    )


@app.command()
def generate(
    rows: int = typer.Option(50_000, min=100, help="Clients to generate"),
    seed: int = typer.Option(0, help="Random seed"),
) -> None:
    """Write the synthetic Home Credit tables to data/generated/<rows>-<seed>/ (cached) and
    print default rate and Bayes AUC."""
    with _errors_in_one_line():
        from credit_scoring.core.settings import CoreSettings
        from credit_scoring.pipeline.generate import generate as write

        typer.echo(write(CoreSettings(), rows, seed))


def family_names(listed: str) -> tuple[Family, ...]:
    """``--families``: names of core.models' families, checked here for a one-line error."""
    from credit_scoring.core.models import FAMILIES

    names = tuple(n.strip() for n in listed.split(",") if n.strip())
    unknown = [n for n in names if n not in FAMILIES]
    if unknown or not names:
        raise typer.BadParameter(
            f"unknown families {unknown}; choose among {', '.join(FAMILIES)}",
            param_hint="--families",
        )
    return cast("tuple[Family, ...]", names)


@app.command()
def train(
    source: str = typer.Option("auto", help="auto (real files if present), real or synthetic"),
    rows: int = typer.Option(20_000, help="Synthetic clients to generate (ignored for real data)"),
    trials: int = typer.Option(4, min=1, help="LightGBM configurations Optuna tries"),
    folds: int = typer.Option(3, min=2, help="Stratified cross-validation folds per repeat"),
    repeats: int = typer.Option(2, min=1, help="Repeats of the k-fold partition (shared folds)"),
    timeout: float = typer.Option(
        None, min=1, help="Time budget in seconds of the LightGBM search (stops new trials)"
    ),
    families: str = typer.Option(
        "lightgbm,logistic,scorecard", help="Model families that compete, comma-separated"
    ),
    max_trees: int = typer.Option(1000, min=1, help="Upper bound on boosting rounds"),
    seed: int = typer.Option(0, help="Seed for data, split, folds and search"),
    fn_cost: float = typer.Option(10.0, help="Cost of granting a loan to a defaulter"),
    fp_cost: float = typer.Option(1.0, help="Cost of refusing a client who would repay"),
    data: Path = typer.Option(
        None,
        help="Your own table (.csv or .parquet) instead of Home Credit's; needs --target, --id",
    ),
    target: str = typer.Option(
        None, help="With --data: the target column (1 or --positive-label = default)"
    ),
    id_column: str = typer.Option(None, "--id", help="With --data: the id column (unique per row)"),
    positive_label: str = typer.Option(
        None, help="With --data: the target value that means default, when it is not 0/1 (e.g. bad)"
    ),
    schema_override: Path = typer.Option(
        None,
        help="With --data: YAML/JSON file that excludes columns or sets kind, bounds, categories",
    ),
    max_categories: int = typer.Option(
        None, min=2, help="With --data: most distinct values a text column may have [50]"
    ),
    include_protected: list[str] = typer.Option(
        [],
        help="A protected attribute to use as a model input anyway (repeatable); recorded and "
        "flagged in every report. Default: protected attributes are audited, never inputs",
    ),
    points: float = typer.Option(600.0, help="Scorecard points at the odds of --odds"),
    odds: float = typer.Option(19.0, help="Good:bad odds (to 1) that score --points"),
    pdo: float = typer.Option(50.0, help="Points that double the good:bad odds"),
    bands: str = typer.Option(
        "650,600,550,500", help="Risk bands' lower bounds in points, best first (A, B, ...)"
    ),
) -> None:
    """Train and log one MLflow run (a nested run per configuration, a run per baseline);
    register the model under its dataset's name and crown it champion when it wins."""
    if source not in ("auto", "real", "synthetic"):
        raise typer.BadParameter("must be auto, real or synthetic", param_hint="--source")
    with _errors_in_one_line():
        from credit_scoring.core.cost import CostMatrix
        from credit_scoring.pipeline.settings import PipelineSettings
        from credit_scoring.pipeline.train import TrainOptions, own_table
        from credit_scoring.pipeline.train import train as run
        from credit_scoring.profiles.home_credit.data import Source

        own = own_table(data, target, id_column, positive_label, schema_override, max_categories)
        costs = CostMatrix(fn_cost=fn_cost, fp_cost=fp_cost)
        chosen = cast(Source, source)
        scale = _scale(points, odds, pdo, bands)
        options = TrainOptions(
            chosen,
            rows,
            trials,
            folds,
            repeats=repeats,
            timeout_s=timeout,
            families=family_names(families),
            max_trees=max_trees,
            seed=seed,
            costs=costs,
            own=own,
            points=scale,
            include_protected=tuple(include_protected),
        )
        run(options, PipelineSettings())


def _scale(points: float, odds: float, pdo: float, bands: str) -> PointsScale:
    """The points scale of the options; a bad one is a usage error naming the problem."""
    from credit_scoring.core.points import PointsScale

    try:
        return PointsScale(points, odds, pdo, tuple(float(part) for part in bands.split(",")))
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--bands/--odds/--pdo") from None


@app.command()
def promote(
    dataset: str = typer.Option(
        None,
        help="Promote this dataset's champion (its schema name, e.g. home-credit, loans) "
        "[default: the dataset of the newest registered version]",
    ),
    run_id: str = typer.Option(None, help="Promote this MLflow run instead of a champion"),
    min_air: float = typer.Option(
        0.8, help="Fairness gate: refuse when a group's adverse impact ratio is below this"
    ),
    max_auc_gap: float = typer.Option(
        0.1, help="Fairness gate: refuse when two groups' ROC AUC differ by more than this"
    ),
    justification: str = typer.Option(
        None, help="Promote although the fairness gate refuses: why (recorded with the model)"
    ),
    reviewer: str = typer.Option(None, help="With --justification: who decided (recorded)"),
    challenger: bool = typer.Option(
        False,
        "--challenger",
        help="Import as the challenger (scored in shadow beside the champion): the run given, "
        "else the newest version that is not the champion; sets the `challenger` alias",
    ),
) -> None:
    """Import a dataset's champion (or the run given) into the BentoML model store, as
    CREDIT_MODEL_NAME (what `serve` serves); with --challenger, as its challenger."""
    if dataset and run_id:
        raise typer.BadParameter("give --dataset or --run-id, not both")
    with _errors_in_one_line():
        from credit_scoring.pipeline.fairness import GateBounds
        from credit_scoring.pipeline.promote import Override, champion_of, promote_challenger
        from credit_scoring.pipeline.promote import promote as copy
        from credit_scoring.pipeline.settings import PipelineSettings

        settings = PipelineSettings()
        override = Override.given(justification, reviewer)
        if challenger:
            bounds = GateBounds(min_air, max_auc_gap)
            stored, version = promote_challenger(settings, dataset, run_id, bounds, override)
            logging.getLogger("promote").info(
                "promoted registry version %s as challenger, BentoML model %s (served in "
                "shadow from the next server start)",
                version,
                stored.tag,
            )
            return
        chosen = run_id or champion_of(settings, dataset)
        model = copy(settings, chosen, GateBounds(min_air, max_auc_gap), override)
        logging.getLogger("promote").info(
            "promoted MLflow run %s as BentoML model %s", chosen, model.tag
        )


REVIEWER_OPTION = typer.Option(..., help="Who decides the change (recorded in the registry)")
WHY_OPTION = typer.Option(..., help="Why, in the reviewer's words (recorded in the registry)")
DATASET_OPTION = typer.Option(
    None, help="The dataset's registered model [default: the one with the newest version]"
)


@app.command()
def switch(
    reviewer: str = REVIEWER_OPTION, why: str = WHY_OPTION, dataset: str = DATASET_OPTION
) -> None:
    """Make the challenger the champion (registry aliases and BentoML store), recording who
    and why on its registry version; the challenger is removed. Served from the next start."""
    with _errors_in_one_line():
        from credit_scoring.pipeline.promote import switch as make_champion
        from credit_scoring.pipeline.settings import PipelineSettings

        move, stored = make_champion(PipelineSettings(), reviewer, why, dataset)
        _moved("switched", move, str(stored.tag))


@app.command()
def rollback(
    reviewer: str = REVIEWER_OPTION, why: str = WHY_OPTION, dataset: str = DATASET_OPTION
) -> None:
    """Return to the previous champion (registry alias and BentoML store), recording who and
    why on the version left. Served from the next start."""
    with _errors_in_one_line():
        from credit_scoring.pipeline.promote import rollback as restore
        from credit_scoring.pipeline.settings import PipelineSettings

        move, stored = restore(PipelineSettings(), reviewer, why, dataset)
        _moved("rolled back", move, str(stored.tag))


def _moved(what: str, move: Move, tag: str) -> None:
    logging.getLogger("promote").info(
        "%s %s: champion version %s -> %s, BentoML model %s (restart the server to serve it)",
        what,
        move.model,
        move.previous,
        move.champion,
        tag,
    )


def _curl_example(url: str, tag: str) -> str:
    """A short request the served model accepts: the id and the required fields of the first
    client of its reference sample, with the API key header when one is required."""
    import bentoml
    import pandas as pd

    from credit_scoring.core.schema import InputSchema
    from credit_scoring.core.scorer import REFERENCE_FILE, SCHEMA_FILE
    from credit_scoring.serving.settings import ServingSettings

    folder = Path(bentoml.models.get(tag).path)
    schema = InputSchema.from_json((folder / SCHEMA_FILE).read_text("utf-8"))
    columns = [schema.id_column, *(f.name for f in schema.fields if f.required)]
    row = pd.read_parquet(folder / REFERENCE_FILE, columns=columns).iloc[:1]
    body = {"applications": json.loads(row.to_json(orient="records"))}
    auth = ' -H "authorization: Bearer $CREDIT_API_KEY"' if ServingSettings().api_key else ""
    return (
        f"curl -s -X POST {url}/predict -H 'content-type: application/json'{auth} "
        f"-d '{json.dumps(body)}'"
    )


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on (0.0.0.0: every interface)"),
    port: int = typer.Option(3000, min=1, max=65535, help="Port"),
    workers: int = typer.Option(None, min=1, help="Service processes [env CREDIT_WORKERS: 2]"),
) -> None:
    """Serve the promoted model with `bentoml serve` in the foreground (this process becomes
    it), after printing what to open next. The newest version (or CREDIT_MODEL_TAG) is
    resolved once: the server and every worker it restarts serve exactly that version."""
    if workers is not None:
        os.environ["CREDIT_WORKERS"] = str(workers)
    with _errors_in_one_line():
        import bentoml

        from credit_scoring.serving.settings import ServingSettings

        settings = ServingSettings()  # validated here: a bad value fails before serving
        # The version printed is the version served: pinned for the server and its workers.
        tag = str(
            bentoml.models.get(settings.model_tag or f"{settings.core.model_name}:latest").tag
        )
        os.environ["CREDIT_MODEL_TAG"] = tag
        url = f"http://{'127.0.0.1' if host == '0.0.0.0' else host}:{port}"
        curl = _curl_example(url, tag)
    typer.echo(
        f"serving {tag} on {url}; next:\n"
        f"  open {url}/ in a browser: Swagger UI, every endpoint with an example to try\n"
        f"  {curl}\n"
        f"  CREDIT_SERVICE_URL={url} credit-scoring ui   (another terminal, in the checkout: "
        "the credit-officer page; or make ui)\n"
    )
    sys.stdout.flush()
    command = [sys.executable, "-m", "bentoml", "serve", SERVICE, "--host", host]
    os.execv(sys.executable, [*command, "--port", str(port)])


@app.command()
def drift(
    log_path: Path = typer.Option(
        None, "--log", help="Request log (SQLite) [default: env CREDIT_REQUEST_LOG]"
    ),
    model: str = typer.Option(
        None,
        help="BentoML model whose reference and logged requests are compared "
        "[default: <CREDIT_MODEL_NAME>:latest]",
    ),
    output_dir: Path = typer.Option(
        None, help="Report folder [default: <CREDIT_REPORTS_DIR>/drift, i.e. reports/drift]"
    ),
    since: str = typer.Option(None, help="Only requests logged at/after this time (ISO or unix s)"),
    until: str = typer.Option(None, help="Only requests logged before this time (ISO or unix s)"),
    top_fields: int = typer.Option(
        20, min=0, help="Watch the N raw fields the model relies on most (0 = all)"
    ),
    threshold: float = typer.Option(0.25, help="PSI at which a field has drifted"),
    drift_share: float = typer.Option(
        0.25, min=0, max=1, help="Dataset drift when this share of tested fields drifted"
    ),
    min_values: int = typer.Option(
        100, min=1, help="Fields with fewer non-missing current values are not tested"
    ),
    fail_on_drift: bool = typer.Option(False, help="Exit with status 1 when the dataset drifted"),
) -> None:
    """Compare logged requests with the model's training reference (Evidently, PSI); write
    HTML + JSON reports."""
    with _errors_in_one_line(ValueError):
        from credit_scoring.core.settings import CoreSettings
        from credit_scoring.monitoring import drift as report

        core = CoreSettings()
        folder = output_dir or core.reports_dir / "drift"
        scorer, tag = report.load_promoted(model or f"{core.model_name}:latest")
        summary = report.run(
            log_path or core.request_log,
            scorer,
            tag,
            folder,
            report.parse_time(since),
            report.parse_time(until),
            top_fields,
            threshold,
            drift_share,
            min_values,
        )
    typer.echo(report.describe(summary, folder, drift_share))
    if fail_on_drift and summary.dataset_drift:
        raise typer.Exit(1)


@app.command()
def overrides(
    log_path: Path = typer.Option(
        None, "--log", help="Request log (SQLite) [default: env CREDIT_REQUEST_LOG]"
    ),
    override_log: Path = typer.Option(
        None, help="Override log (SQLite) [default: env CREDIT_OVERRIDE_LOG]"
    ),
    by: list[str] = typer.Option(
        [], help="Also per group of this logged application field (repeatable)"
    ),
    output: Path = typer.Option(
        None, help="CSV file [default: <CREDIT_REPORTS_DIR>/overrides.csv, i.e. reports/]"
    ),
) -> None:
    """Override rate by model decision (and by group): applicants scored, decisions officers
    overrode, the rate; printed and written as CSV."""
    with _errors_in_one_line(ValueError):
        from credit_scoring.core import overrides as report
        from credit_scoring.core.settings import CoreSettings

        core = CoreSettings()
        requests = log_path or core.request_log
        if not requests.is_file():
            raise ValueError(f"no request log at {requests}: nothing has been scored yet")
        rates = report.override_rates(
            report.latest_answers(requests),
            report.read_overrides(override_log or core.override_log),
            by,
        )
        path = output or core.reports_dir / "overrides.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        rates.to_csv(path, index=False)
    typer.echo(rates.to_string(index=False))
    typer.echo(f"written to {path}")


RECORD_OPTION = typer.Option(
    None, "--log", help="Decision record (SQLite) [default: env CREDIT_REQUEST_LOG]"
)


def _record_path(log_path: Path | None) -> Path:
    from credit_scoring.core.settings import CoreSettings

    return log_path or CoreSettings().request_log


def _record_errors() -> tuple[type[Exception], ...]:
    """What the record commands can fail with: a broken or missing record, a bad setting."""
    from pydantic import ValidationError

    from credit_scoring.core.request_log import RecordError

    return RecordError, ValidationError


@app.command()
def verify(log_path: Path = RECORD_OPTION) -> None:
    """Check the decision record's hash chain: exit 1 naming the first row edited, or after
    a removed one; else print the rows, the erased and expired ones, and the chain's head
    (note it elsewhere: a later verify whose rows start with the same head shows no row was
    cut off the end)."""
    with _errors_in_one_line(*_record_errors()):
        from credit_scoring.core.request_log import verify as check

        path = _record_path(log_path)
        result = check(path)
    typer.echo(
        f"ok: {path}: {result.rows} rows chained, {result.erased} erased on request, "
        f"{result.expired} expired; head {result.head}"
    )


@app.command()
def erase(
    applicant: str = typer.Option(..., help="The applicant's id, as the service echoed it"),
    reason: str = typer.Option(
        "erasure requested by the applicant", help="Why: kept in each row's tombstone"
    ),
    log_path: Path = RECORD_OPTION,
) -> None:
    """Remove one applicant's id and inputs from the decision record (right to erasure). The
    rows keep the decision and their digests, with a tombstone saying why: verify passes."""
    with _errors_in_one_line(*_record_errors()):
        from credit_scoring.core.outcomes import erase_outcome
        from credit_scoring.core.request_log import erase as remove

        seqs = remove(_record_path(log_path), applicant, reason)
        outcome = erase_outcome(_record_path(log_path), applicant)  # personal data too
    typer.echo(
        f"erased the inputs of applicant {applicant} from {len(seqs)} rows {seqs}"
        + (" and their outcome" if outcome else "")
    )


@app.command()
def retention(
    months: int = typer.Option(
        None, help="Keep rows this many months [env CREDIT_RETENTION_MONTHS: 25; at least 6]"
    ),
    log_path: Path = RECORD_OPTION,
) -> None:
    """Empty the decision record's rows older than the retention period, leaving each one's
    digest and a tombstone (run it daily, e.g. from cron or a Kubernetes CronJob)."""
    with _errors_in_one_line(*_record_errors()):
        from credit_scoring.core.request_log import expire
        from credit_scoring.core.settings import CoreSettings

        core = CoreSettings()
        kept = months or core.retention_months
        emptied = expire(log_path or core.request_log, kept)
    typer.echo(f"retention {kept} months: {emptied} rows emptied")


def _report_errors() -> tuple[type[Exception], ...]:
    """What the outcome and report commands fail with: a record, outcome or window problem."""
    from credit_scoring.monitoring.decisions import ReportError

    return (*_record_errors(), ReportError)


@app.command()
def outcomes(
    csv: Path = typer.Argument(..., help="CSV with columns applicant_id,defaulted,observed_on"),
    log_path: Path = RECORD_OPTION,
) -> None:
    """Record observed outcomes (defaulted yes/no, observation date) of scored applicants
    beside the decision record: idempotent; unknown ids are listed, not recorded; a different
    outcome for an applicant already recorded refuses the file."""
    with _errors_in_one_line(*_report_errors()):
        from credit_scoring.core import outcomes as store

        receipt = store.record(_record_path(log_path), store.read_csv(csv))
    typer.echo(
        f"{receipt.recorded} outcomes recorded, {receipt.unchanged} unchanged,"
        f" {len(receipt.unknown_ids)} unknown ids {receipt.unknown_ids[:20]}"
    )


SINCE = typer.Option(None, help="Only decisions logged at/after this time (ISO or unix s)")
UNTIL = typer.Option(None, help="Only decisions logged before this time (ISO or unix s)")
AS_OF = typer.Option(
    None, help="Judge maturity as of this time [default: now; later simulates time passing]"
)


def _window(since: str | None, until: str | None):  # -> monitoring.decisions.Window
    from credit_scoring.monitoring.decisions import Window
    from credit_scoring.monitoring.drift import parse_time

    return Window(parse_time(since), parse_time(until))


@app.command()
def compare(
    log_path: Path = RECORD_OPTION,
    since: str = SINCE,
    until: str = UNTIL,
    as_of: str = AS_OF,
    output_dir: Path = typer.Option(None, help="[default: <CREDIT_REPORTS_DIR>/compare]"),
) -> None:
    """Champion vs challenger from the decision record's shadow results: agreement, swap
    sets, PSI, approval and fairness ratios of each, observed bad rates; HTML + JSON."""
    with _errors_in_one_line(*_report_errors()):
        from credit_scoring.core.settings import CoreSettings
        from credit_scoring.monitoring import compare as report
        from credit_scoring.monitoring.drift import parse_time

        core = CoreSettings()
        built = report.build(log_path or core.request_log, _window(since, until), parse_time(as_of))
        paths = report.write(built, output_dir or core.reports_dir / "compare")
    typer.echo(report.describe(built))
    typer.echo(f"written to {', '.join(map(str, paths))}")


@app.command()
def performance(
    log_path: Path = RECORD_OPTION,
    since: str = SINCE,
    until: str = UNTIL,
    as_of: str = AS_OF,
    window_months: int = typer.Option(
        None, min=1, help="Performance window [env CREDIT_PERFORMANCE_WINDOW_MONTHS: 12]"
    ),
    freq: str = typer.Option("M", help="Cohorts of decisions: M (month), W (week), D (day)"),
    output_dir: Path = typer.Option(None, help="[default: <CREDIT_REPORTS_DIR>/performance]"),
    fail_on_alert: bool = typer.Option(False, help="Exit with status 1 on an alert"),
) -> None:
    """Realised performance from recorded outcomes, champion and challenger on the same
    applicants: AUC with CI, KS, bad rate and calibration per band, cost, training figures
    beside them, alerts; HTML + JSON."""
    with _errors_in_one_line(*_report_errors()):
        from credit_scoring.core.settings import CoreSettings
        from credit_scoring.monitoring import performance as report
        from credit_scoring.monitoring.drift import parse_time

        core = CoreSettings()
        options = report.Options.of(_window(since, until), parse_time(as_of), window_months, freq)
        built = report.build(log_path or core.request_log, options)
        paths = report.write(built, output_dir or core.reports_dir / "performance")
    typer.echo(report.describe(built))
    typer.echo(f"written to {', '.join(map(str, paths))}")
    if fail_on_alert and built["alerts"]:
        raise typer.Exit(1)


@app.command("example-tables")
def example_tables(
    table: str = typer.Argument(
        ...,
        help="loans (3 inputs, good/bad), customers (12 inputs), lending (8,000 loans, 5% bad, "
        "ordinal grade, 50 regions, almost additive) or interactions (8,000, 6% bad, trees win)",
    ),
    path: Path = typer.Argument(..., help="Output file, .csv or .parquet"),
    rows: int = typer.Option(None, min=100, help="Rows [the table's own size]"),
    seed: int = typer.Option(None, help="Random seed [the table's own]"),
) -> None:
    """Write a credit table of another shape than Home Credit's, to try `train --data` on."""
    with _errors_in_one_line(ValueError):
        from credit_scoring.own_table.examples import write_example

        typer.echo(write_example(table, path, rows, seed))


@app.command("batch-score")
def batch_score(
    applications: Path = typer.Argument(
        ..., help="The application table (.parquet file or folder, or .csv with a header)"
    ),
    histories: Path = typer.Option(
        None,
        help="Folder of the history tables, as <table>.parquet or <table>.csv; absent tables "
        "have no rows [default: the application table's folder]",
    ),
    output: str = typer.Option(
        None,
        help="Output folder or URI: scores/ and rejects/ (Parquet), replaced whole on a rerun "
        "[default: reports/portfolio]",
    ),
    model: Path = typer.Option(None, help="A model bundle folder instead of the store's model"),
    model_tag: str = typer.Option(
        None, help="BentoML model to score with [default: <CREDIT_MODEL_NAME>:latest]"
    ),
    master: str = typer.Option(
        None, help="Spark master, e.g. local[2], spark://host:7077 [default: local[*]]"
    ),
    memory: str = typer.Option("2g", help="Spark driver memory (local mode: all of Spark's)"),
    executor_memory: str = typer.Option(None, help="Spark executor memory (a cluster's)"),
    buckets: int = typer.Option(32, min=1, help="Client buckets: one pandas call each"),
    partitions: int = typer.Option(None, min=1, help="Shuffle partitions [default: buckets]"),
) -> None:
    """Score a whole portfolio on Spark with the promoted model: the service's features,
    probability, decision, points, band and reasons for every client; bad rows to rejects/."""
    if model is not None and model_tag is not None:
        raise typer.BadParameter("give --model or --model-tag, not both")
    with _errors_in_one_line():
        from dataclasses import asdict

        from credit_scoring.batch import bundle as bundles
        from credit_scoring.batch import spark as job
        from credit_scoring.core.settings import CoreSettings

        core = CoreSettings()
        chosen = (
            bundles.from_folder(model)
            if model is not None
            else bundles.from_store(model_tag or f"{core.model_name}:latest")
        )
        files = job.input_files(applications, histories, chosen)
        options = job.SparkOptions(master, memory, executor_memory, partitions, buckets)
        spark = job.session(options)
        try:
            summary = job.score_portfolio(
                spark, files, chosen, str(output or core.reports_dir / "portfolio"), buckets
            )
        finally:
            spark.stop()
    typer.echo(json.dumps(asdict(summary), indent=1))


@app.command("portfolio-drift")
def portfolio_drift(
    outputs: list[Path] = typer.Argument(..., help="batch-score output folders (one per run)"),
    model: str = typer.Option(
        None, help="BentoML model whose reference is compared [<CREDIT_MODEL_NAME>:latest]"
    ),
    output_dir: Path = typer.Option(
        None, help="Report folder [default: <CREDIT_REPORTS_DIR>/portfolio-drift]"
    ),
    threshold: float = typer.Option(0.25, help="PSI at which the score distribution drifted"),
) -> None:
    """Compare the score distribution of batch-score runs with the model's training
    reference (PSI) and show the refusal rate per run; HTML + JSON reports."""
    with _errors_in_one_line(ValueError):
        from credit_scoring.core.settings import CoreSettings
        from credit_scoring.monitoring import drift as report

        core = CoreSettings()
        folder = output_dir or core.reports_dir / "portfolio-drift"
        scorer, _ = report.load_promoted(model or f"{core.model_name}:latest")
        summary = report.run_portfolio(outputs, scorer, folder, threshold)
    verdict = "SCORE DRIFT" if summary["score_drift"] else "no score drift"
    typer.echo(
        f"{verdict}: PSI {summary['psi']} over {summary['clients']} clients in "
        f"{summary['runs']} runs; refusal rate {summary['portfolio_refusal_rate']:.1%} vs "
        f"{summary['reference_refusal_rate']:.1%} in the reference; written to {folder}"
    )


def _run_tool(module: str, args: list[str]) -> None:
    """Become ``python -m <module> ARGS`` when the working directory is a checkout (the tools
    are not part of the installed package); say so in one line otherwise."""
    if not (Path.cwd() / Path(*module.split("."))).with_suffix(".py").is_file():
        typer.echo(
            f"error: {module} is a tool of the credit-scoring-bento repository, not of the "
            "installed package: run this command from a checkout's folder",
            err=True,
        )
        raise typer.Exit(1)
    os.execv(sys.executable, [sys.executable, "-m", module, *args])


@app.command(context_settings=PASS_THROUGH, add_help_option=False)
def ui(ctx: typer.Context) -> None:
    """The credit-officer page (Streamlit; starts `bentoml serve` if no service answers).
    Options: those of `python -m ui.launch --help`. Needs a checkout."""
    _run_tool("ui.launch", ctx.args)


@app.command("load-test", context_settings=PASS_THROUGH, add_help_option=False)
def load_test(ctx: typer.Context) -> None:
    """Bounded Locust run against the service, failing over its latency budget. Options:
    those of `python -m load_tests.run --help`. Needs a checkout."""
    _run_tool("load_tests.run", ctx.args)
