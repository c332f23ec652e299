"""/healthz and /metrics as both bot servers mount them."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from bot import metrics
from bot.ops import ops_routes


def client(health) -> TestClient:
    return TestClient(Starlette(routes=ops_routes(health)))


def test_healthz_is_200_with_the_checks_when_healthy() -> None:
    response = client(lambda: {"store": True, "model": None, "platform": "connected"}).get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"ok": True, "store": True, "model": None, "platform": "connected"}


@pytest.mark.parametrize(
    "checks",
    [{"store": False, "model": "e5"}, {"ok": False, "platform": "disconnected"}],
)
def test_healthz_is_503_when_a_check_fails(checks: dict) -> None:
    response = client(lambda: checks).get("/healthz")
    assert response.status_code == 503
    assert response.json()["ok"] is False


def test_healthz_is_503_when_the_check_itself_raises() -> None:
    def broken() -> dict:
        raise ConnectionError("chroma at http://chroma:8000 refused")

    response = client(broken).get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"ok": False, "error": "ConnectionError: chroma at http://chroma:8000 refused"}


def test_metrics_serves_the_prometheus_text_format() -> None:
    metrics.QUESTIONS.labels(platform="feishu").inc()
    metrics.EVENTS.labels(platform="slack", outcome="duplicate").inc()
    metrics.record_answer("extractive", found=False)
    metrics.set_index_size(reports=3, chunks=120)
    with metrics.stage_timer("retrieve_lexical"):
        pass
    with pytest.raises(ValueError), metrics.stage_timer("llm"):
        raise ValueError("timeout")

    response = client(lambda: {}).get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    for line in (
        'yanbao_questions_total{platform="feishu"}',
        'yanbao_events_total{outcome="duplicate",platform="slack"}',
        'yanbao_answers_total{found="false",mode="extractive"}',
        "yanbao_index_reports 3.0",
        "yanbao_index_chunks 120.0",
        'yanbao_stage_seconds_count{stage="retrieve_lexical"}',
        'yanbao_stage_seconds_count{stage="llm"}',
        'yanbao_stage_seconds_bucket{le="0.15",stage="total"}',
        'yanbao_llm_tokens_total{kind="prompt"}',
        'yanbao_feedback_total{value="down"}',
    ):
        assert line in text, line
