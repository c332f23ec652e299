"""`yanbao doctor`: what is configured and reachable, which embedding model is in use, store size."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TypeVar

import httpx

from index.redact import mask_url_passwords, redact_url
from index.settings import Settings

T = TypeVar("T")


def _check(fn: Callable[[], T]) -> tuple[bool, T | str]:
    """(True, what fn returned), or (False, the error as one line, URL passwords masked)."""
    try:
        return True, fn()
    except Exception as exc:  # doctor reports every failure as a line, it never crashes
        return False, mask_url_passwords(f"{type(exc).__name__}: {exc}")


def probe_llm(settings: Settings) -> tuple[bool, str]:
    """Whether the endpoint answers /models with this key: 401/403 mean the key is refused."""
    headers = {"Authorization": f"Bearer {settings.llm_api_key}"} if settings.llm_api_key else {}
    ok, response = _check(lambda: httpx.get(f"{settings.llm_base_url}/models", headers=headers, timeout=5))
    if not isinstance(response, httpx.Response):
        return False, str(response)
    code = response.status_code
    if code in (401, 403):
        key = "YANBAO_LLM_API_KEY" if settings.llm_api_key else "no YANBAO_LLM_API_KEY set"
        return False, f"HTTP {code}: the endpoint refuses the key ({key})"
    if code >= 400:
        return False, f"HTTP {code}: check YANBAO_LLM_BASE_URL (it should end in /v1 or the like)"
    return True, f"HTTP {code}"


def diagnose(settings: Settings) -> dict:
    from bot.state import open_state
    from index.library import Library

    report: dict = {"settings": settings.redacted()}
    started = time.perf_counter()
    ok, library = _check(lambda: Library(settings))
    report["load_seconds"] = round(time.perf_counter() - started, 2)
    if isinstance(library, Library):
        report["index"] = library.status()
        library.refresh()
        report["index"] = library.status()
    else:
        report["index"] = {"error": library}
    _, state = _check(lambda: open_state(settings))
    report["state"] = {
        "backend": redact_url(settings.redis_url)
        if settings.redis_url
        else str(settings.state_dir / "state.sqlite3"),
        "reachable": not isinstance(state, str) and state.ping(),
    }
    if settings.llm_configured:
        ok_llm, detail = probe_llm(settings)
        report["llm"] = {
            "base_url": redact_url(settings.llm_base_url or ""),
            "model": settings.llm_model,
            "reachable": ok_llm,
            "detail": detail,
        }
    else:
        report["llm"] = {
            "configured": False,
            "detail": "no YANBAO_LLM_BASE_URL/YANBAO_LLM_MODEL: answers are extractive",
        }
    report["slack"] = {
        "configured": bool(settings.slack_bot_token and settings.slack_signing_secret),
        "socket_mode": bool(settings.slack_app_token),
    }
    report["feishu"] = {
        "configured": bool(settings.feishu_app_id and settings.feishu_app_secret),
        "domain": settings.feishu_domain,
    }
    index = report["index"]
    llm_ok = report["llm"].get("reachable", True)  # an LLM that is configured must answer
    report["ok"] = bool(ok and index.get("store_reachable") and report["state"]["reachable"] and llm_ok)
    return report


def render_diagnosis(report: dict) -> str:
    lines = []
    index = report.get("index", {})
    if "error" in index:
        lines.append(f"✗ store: {index['error']}")
    else:
        lines.append(
            f"{'✓' if index.get('store_reachable') else '✗'} store: {index['store']} "
            f"({index['reports']} reports, {index['chunks']} chunks, generation {index['generation']})"
        )
        if index.get("embed_model"):
            why = f" — {index['embed_why']}" if index.get("embed_why") else ""
            lines.append(f"✓ embedding model: {index['embed_model']} (space {index['space']}){why}")
        elif index.get("embed_problem"):
            lines.append(f"! embedding model: {index['embed_problem']} — running lexical-only")
        else:
            lines.append("· embedding model: none (lexical-only by choice)")
        if index.get("rerank_model"):
            lines.append(f"✓ reranker: {index['rerank_model']}")
    state = report["state"]
    lines.append(f"{'✓' if state['reachable'] else '✗'} state: {state['backend']}")
    llm = report["llm"]
    if llm.get("configured") is False:
        lines.append(f"· llm: {llm['detail']}")
    else:
        lines.append(
            f"{'✓' if llm['reachable'] else '✗'} llm: {llm['model']} at {llm['base_url']} ({llm['detail']})"
        )
    lines.append(
        f"{'✓' if report['slack']['configured'] else '·'} slack: "
        f"{'configured' if report['slack']['configured'] else 'not configured'}"
    )
    lines.append(
        f"{'✓' if report['feishu']['configured'] else '·'} feishu: "
        f"{'configured' if report['feishu']['configured'] else 'not configured'} ({report['feishu']['domain']})"
    )
    lines.append("")
    lines.append("settings: " + json.dumps(report["settings"], ensure_ascii=False))
    return "\n".join(lines)
