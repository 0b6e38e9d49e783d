"""Portfolio scoring: every client of a portfolio re-scored with the promoted model bundle, on
Spark (``spark``), by the service's feature function and scorer (``portfolio``)."""
