"""`yanbao doctor`: what is configured and reachable, which embedding model is in use, store size."""

from __future__ import annotations

import json
import time

import httpx

from index.settings import Settings


def _check(fn) -> tuple[bool, str]:
    try:
        return True, fn()
    except Exception as exc:  # doctor reports every failure as a line, it never crashes
        return False, f"{type(exc).__name__}: {exc}"


def diagnose(settings: Settings) -> dict:
    from bot.state import open_state, redact_url
    from index.library import Library

    report: dict = {"settings": settings.redacted()}
    started = time.perf_counter()
    ok, library = _check(lambda: Library(settings))
    report["load_seconds"] = round(time.perf_counter() - started, 2)
    if ok:
        report["index"] = library.status()
        library.refresh()
        report["index"] = library.status()
    else:
        report["index"] = {"error": library}
    ok_state, state = _check(lambda: open_state(settings))
    report["state"] = {
        "backend": redact_url(settings.redis_url)
        if settings.redis_url
        else str(settings.state_dir / "state.sqlite3"),
        "reachable": bool(ok_state and state.ping()),
    }
    if settings.llm_configured:

        def probe() -> str:
            headers = {"Authorization": f"Bearer {settings.llm_api_key}"} if settings.llm_api_key else {}
            r = httpx.get(f"{settings.llm_base_url}/models", headers=headers, timeout=5)
            return f"HTTP {r.status_code}"

        ok_llm, detail = _check(probe)
        report["llm"] = {
            "base_url": settings.llm_base_url,
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
    report["ok"] = bool(ok and index.get("store_reachable") and report["state"]["reachable"])
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
