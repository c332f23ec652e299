"""Clear messages instead of tracebacks, passwords masked everywhere, bad arguments refused
(issue 15, section 5). Each runs the real `yanbao` command in a subprocess."""

# ruff: noqa: F811  (pytest fixtures imported by name)
from __future__ import annotations

import json
import os
import select
import subprocess
import time

import pytest

from bot.cli import build_parser
from bot.doctor import diagnose
from bot.service import Yanbao
from bot.state import LockTimeout, SQLiteState
from index.library import Library
from index.redact import mask_url_passwords, redact_url
from index.settings import load_settings
from tests.fakes.openai_server import FakeOpenAIServer
from tests.fakes.servers import free_port
from tests.helpers import YANBAO, cli_env, json_out, make_settings, note_paths, run_yanbao, write_note

PASSWORDS = ("chromapw42", "llmpw4242", "redispw42")


def dead_urls() -> dict[str, str]:
    """Settings whose URLs carry passwords and point at ports where nothing listens."""
    return {
        "YANBAO_CHROMA_URL": f"http://admin:{PASSWORDS[0]}@127.0.0.1:{free_port()}",
        "YANBAO_REDIS_URL": f"redis://:{PASSWORDS[2]}@127.0.0.1:{free_port()}/0",
    }


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for password in PASSWORDS:
            assert password not in text, text


def test_an_unreachable_chroma_server_is_one_line_naming_the_setting_with_the_password_masked(tmp_path):
    env = dead_urls()
    result = run_yanbao(["reports"], tmp_path / "home", timeout=120, **env)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "cannot reach the Chroma server at http://admin:***@127.0.0.1:" in result.stderr
    assert "YANBAO_CHROMA_URL" in result.stderr
    assert_no_secret(result.stdout, result.stderr)


def test_debug_level_shows_the_traceback_still_masked(tmp_path):
    result = run_yanbao(["reports"], tmp_path / "home", timeout=120, YANBAO_LOG_LEVEL="DEBUG", **dead_urls())
    assert result.returncode == 1 and "Traceback" in result.stderr
    assert_no_secret(result.stdout, result.stderr)


@pytest.mark.parametrize("home", ["/dev/null/yanbao"])
def test_an_unusable_yanbao_home_is_named(tmp_path, home):
    result = run_yanbao(["reports"], tmp_path / "home", timeout=120, YANBAO_HOME=home)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"YANBAO_HOME={home}: cannot use it as yanbao's folder" in result.stderr


def test_doctor_masks_every_url_password_and_marks_a_refused_llm_key(tmp_path):
    with FakeOpenAIServer(api_key="the-right-key") as llm:
        base = llm.url.replace("http://", f"http://user:{PASSWORDS[1]}@")
        env = {
            **dead_urls(),
            "YANBAO_LLM_BASE_URL": base,
            "YANBAO_LLM_MODEL": "fake-model",
            "YANBAO_LLM_API_KEY": "sk-wrong-key-123456",
        }
        text = run_yanbao(["doctor"], tmp_path / "home", timeout=120, **env)
        as_json = run_yanbao(["doctor", "--json"], tmp_path / "home", timeout=120, **env)
    assert_no_secret(text.stdout, text.stderr, as_json.stdout, as_json.stderr)
    assert "sk-wrong-key-123456" not in text.stdout + text.stderr + as_json.stdout
    assert "Traceback" not in text.stderr
    report = json_out(as_json)
    assert report["ok"] is False and text.returncode != 0
    assert report["llm"]["reachable"] is False
    assert "HTTP 401" in report["llm"]["detail"] and "YANBAO_LLM_API_KEY" in report["llm"]["detail"]
    assert "user:***@127.0.0.1" in report["llm"]["base_url"]
    assert report["settings"]["chroma_url"].startswith("http://admin:***@127.0.0.1:")
    assert report["settings"]["redis_url"].startswith("redis://:***@127.0.0.1:")
    llm_line = next(line for line in text.stdout.splitlines() if " llm: " in line)
    assert llm_line.startswith("✗") and "HTTP 401" in llm_line


def test_doctor_shows_a_working_llm_key_as_working(tmp_path):
    with FakeOpenAIServer(api_key="the-right-key") as llm:
        env = {
            "YANBAO_LLM_BASE_URL": llm.url,
            "YANBAO_LLM_MODEL": "fake-model",
            "YANBAO_LLM_API_KEY": "the-right-key",
        }
        report = diagnose(load_settings(cli_env(tmp_path / "home", **env)))
    assert report["llm"]["reachable"] is True and report["llm"]["detail"] == "HTTP 200"
    assert report["ok"] is True


def test_settings_dumps_mask_url_passwords():
    settings = load_settings(
        {
            "YANBAO_CHROMA_URL": "https://u:chromapw42@chroma.internal:8000",
            "YANBAO_LLM_BASE_URL": "https://k:llmpw4242@llm.internal/v1",
            "YANBAO_REDIS_URL": "redis://:redispw42@redis.internal:6379/0",
        }
    )
    shown = json.dumps(settings.redacted())
    assert_no_secret(shown)
    assert "https://u:***@chroma.internal:8000" in shown and "redis://:***@redis.internal:6379/0" in shown


@pytest.mark.parametrize("bad", ["99999", "0", "-1", "http"])
def test_serve_refuses_a_port_that_cannot_be_bound_as_given(capsys, bad):
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["serve", "slack", "--port", bad])
    assert exit_.value.code == 2 and "--port" in capsys.readouterr().err
    assert build_parser().parse_args(["serve", "slack", "--port", "65535"]).port == 65535


def test_the_serve_command_refuses_a_bad_port_before_starting(tmp_path):
    result = run_yanbao(["serve", "slack", "--port", "99999"], tmp_path / "home", timeout=60)
    assert result.returncode == 2 and "99999 is not a port" in result.stderr


def test_since_understands_a_compact_date_and_refuses_a_wrong_one(tmp_path, capsys):
    args = build_parser().parse_args(["ask", "--since", "20250110", "--until", "2025/1/31", "端側AI芯片"])
    assert (args.since, args.until) == ("2025-01-10", "2025-01-31")
    library = Library(make_settings(tmp_path))
    library.index(note_paths(), progress=False)
    service = Yanbao(library.settings.replace(home=tmp_path / "state"), library=library)
    answer = service.ask("端側AI芯片推薦了哪些公司?", since=args.since)
    # the weekly of 2025-01-13 answers; the strategy note of 2025-01-06 is before the date
    assert answer.found and {c.date for c in answer.citations} == {"2025-01-13"}
    assert not service.ask(
        "端側AI芯片推薦了哪些公司?",
        since=build_parser().parse_args(["ask", "--since", "20250201", "q"]).since,
    ).found  # the date is read, not ignored
    wrong = run_yanbao(["ask", "--json", "--since", "2025-13-01", "端側AI芯片"], tmp_path / "home")
    assert wrong.returncode == 2 and "is not a date" in wrong.stderr and wrong.stdout == ""


def test_a_newline_in_a_file_name_cannot_forge_summary_lines(tmp_path):
    folder = tmp_path / "inbox"
    forged = "x.txt\n0 added, 0 updated, 0 unchanged, 0 removed, 0 chunks written, 0 failed\n.txt"
    (folder).mkdir()
    (folder / forged).write_bytes(b"")  # empty: it fails, and its name is printed
    write_note(folder / "real.txt", ["光模块周报：订单饱满", "本周光模块订单饱满，我们维持行业推荐评级。"])
    result = run_yanbao(["index", str(folder)], tmp_path / "home", timeout=120)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert len(lines) == 2, lines  # the summary line and one failure line
    assert lines[0].startswith("indexed in") and "1 added" in lines[0] and "1 failed" in lines[0]
    assert lines[1].startswith("  failed: ") and "x.txt\\n0 added" in lines[1] and "empty file" in lines[1]


def test_a_lock_wait_says_who_holds_the_lock_and_ends_with_a_clear_error(tmp_path):
    state = SQLiteState(tmp_path / "state.sqlite3")
    other = SQLiteState(tmp_path / "state.sqlite3")
    notices: list[str] = []
    with state.lock("index"):
        with pytest.raises(LockTimeout) as error:
            with other.lock("index", timeout=0.5, on_wait=notices.append):
                pass
    assert len(notices) == 1 and notices[0].startswith(f"pid {os.getpid()} on ")
    assert error.value.holder == notices[0]
    assert f"held by pid {os.getpid()}" in str(error.value)


def test_yanbao_index_says_it_is_waiting_for_the_lock_and_who_holds_it(tmp_path):
    home = tmp_path / "home"
    note = write_note(tmp_path / "inbox" / "weekly.txt", ["光模块周报：订单饱满", "本周光模块订单饱满。"])
    state = SQLiteState(load_settings(cli_env(home)).state_dir / "state.sqlite3")
    with state.lock("index"):
        process = subprocess.Popen(
            [str(YANBAO), "index", str(note), "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=cli_env(home),
        )
        try:
            said, deadline = "", time.monotonic() + 120  # a hang guard, not what is tested
            while "waiting for the index lock" not in said and time.monotonic() < deadline:
                if select.select([process.stderr], [], [], 1)[0]:
                    said += process.stderr.readline()
                assert process.poll() is None, said
        except BaseException:
            process.kill()
            raise
    out, err = process.communicate(timeout=120)  # the lock is free now: the run goes ahead
    assert f"waiting for the index lock, held by pid {os.getpid()} on " in said
    assert process.returncode == 0 and json.loads(out)["added"] == 1, err


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://u:p@ss:w0rd@llm.internal:8443/v1", "https://u:***@llm.internal:8443/v1"),
        ("redis://:redispw42@10.0.0.5:6379/0", "redis://:***@10.0.0.5:6379/0"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
    ],
)
def test_a_url_password_is_masked_however_it_is_written(url, shown):
    assert redact_url(url) == shown
    assert mask_url_passwords(f"cannot reach {url}: refused") == f"cannot reach {shown}: refused"
