"""The request log keeps what was sent: ids as they came, every row of every batch."""

from __future__ import annotations

from credit_scoring.core.request_log import LoggedScore, RequestLog, read_log


def test_ids_come_back_as_sent(tmp_path):
    log = RequestLog(tmp_path / "requests.sqlite")
    sent = [7, "007", "L-00017", None]
    log.append(
        LoggedScore("predict", "m:1", client_id, 0.1, "granted", 0.2, {"AMT_CREDIT": 1.0})
        for client_id in sent
    )
    log.close()
    logged = read_log(tmp_path / "requests.sqlite")
    assert [None if v != v else v for v in logged["client_id"].tolist()] == sent
    assert logged["AMT_CREDIT"].tolist() == [1.0] * 4
