"""``python -m credit_scoring ARGS`` is the ``credit-scoring`` command; this file is also what
``spark-submit`` runs on a cluster: ``spark-submit ... credit_scoring/__main__.py batch-score``."""

from credit_scoring.cli import app

app(prog_name="credit-scoring")
