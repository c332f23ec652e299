"""The one command layer: what a person typed becomes a command, admins are checked once (also inside
the service), uploads and votes follow one set of rules, and every surface gets the same commands,
a new one included. The console is the surface these tests drive (Slack and Feishu: test_slack_*,
test_feishu_*)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.console import handle_line
from bot.dispatch import Command, Context, Dispatcher, Reply, Say, Vote
from bot.permissions import OPERATOR, NotPermitted, Requester
from bot.service import Yanbao
from index.settings import Settings
from tests.bot.chat_fixtures import ANSWER_NAMES, QUESTION, WEEKLY_TITLE, copy_notes

ADMIN = Requester("slack", "UADMIN")
READER = Requester("slack", "UREADER")


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    reports = tmp_path_factory.mktemp("reports")
    copy_notes(reports)
    settings = Settings(
        home=tmp_path_factory.mktemp("home"),
        embed_model="none",
        report_dirs=(reports,),
        admins=("slack:UADMIN", "feishu:ou_admin"),
        max_upload_mb=1.0,
    )
    yanbao = Yanbao(settings)
    assert yanbao.reindex(by=OPERATOR).ok
    return yanbao


@pytest.fixture(scope="module")
def dispatcher(service):
    return Dispatcher(service)


# --- parsing --------------------------------------------------------------------------------------


def test_text_becomes_a_command_or_a_question(dispatcher):
    def parsed(text, **kw):
        invocation = dispatcher.parse(text, **kw)
        return invocation.name, invocation.args

    assert parsed("/weekly 通信") == ("weekly", "通信")
    assert parsed("/WEEKLY") == ("weekly", "")
    assert parsed(QUESTION) == ("ask", QUESTION)
    assert parsed("/etc/hosts 里写了什么") == ("ask", "/etc/hosts 里写了什么")  # a path is not a command
    assert parsed("/xyz 光模块")[0] == "xyz"  # a mistyped command is told so, not searched
    # Slack's /weekly slash command and a Feishu menu key name the command themselves
    assert parsed("通信", verb="weekly") == ("weekly", "通信")
    assert parsed("通信", verb="subscribe")[0] == "subscribe"  # not registered: not a question either
    # `/yanbao weekly 通信`: the first word may be a command without its slash
    assert parsed("weekly 通信", bare=True) == ("weekly", "通信")
    assert parsed("", bare=True) == ("help", "")
    assert parsed("乐鑫科技怎么样", bare=True) == ("ask", "乐鑫科技怎么样")


def test_an_unknown_command_lists_the_commands(dispatcher):
    reply = dispatcher.handle("/xyz", READER)
    assert reply.kind == "message" and "/weekly" in reply.text("en") and "/xyz" in reply.text("en")
    assert "/weekly" in reply.text("zh")


# --- permissions ----------------------------------------------------------------------------------


def test_reindex_is_for_admins_everywhere(dispatcher, service):
    refused = dispatcher.handle("/reindex", READER)
    assert refused.tone == "refused" and "only yanbao admins" in refused.text("en")
    assert "只有管理员可以重建索引" == refused.title("zh")
    # the service guards itself too: no surface can skip the check
    with pytest.raises(NotPermitted):
        service.reindex(by=READER)
    with pytest.raises(NotPermitted):
        service.add_file(Path("note.txt"), "slack:F1/note.txt", by=Requester("feishu", "ou_reader"))
    done = dispatcher.handle("/reindex", ADMIN)
    assert done.kind == "indexed" and done.summary.unchanged == 4 and not done.summary.failed


def test_reindex_with_a_path_in_chat_is_a_message_not_a_traceback(dispatcher, tmp_path):
    reply = dispatcher.handle("/reindex /etc/passwd", ADMIN)
    assert reply.kind == "message" and "YANBAO_REPORT_DIRS" in reply.text("en")
    # the operator may name paths; one that is not a report says so, naming it
    sheet = tmp_path / "估值表.xlsx"
    sheet.write_bytes(b"PK")
    text = handle_line(dispatcher, f"/reindex {sheet}", "console:test")
    assert str(sheet) in text and "not a report file" in text and "Traceback" not in text
    text = handle_line(dispatcher, "/reindex /no/such/folder", "console:test")
    assert "/no/such/folder" in text and "no such file or folder" in text


# --- the console ------------------------------------------------------------------------------------


def test_console_weekly_reads_a_sector_as_a_sector(dispatcher):
    text = handle_line(dispatcher, "/weekly 计算机", "console:test")
    assert WEEKLY_TITLE in text and "金山办公" in text  # 计算机 is the weekly's sector, not a broker


def test_weekly_with_nothing_to_summarise_names_the_notes_it_looked_at(dispatcher):
    reply = dispatcher.handle("/weekly 半导体", READER)
    assert reply.answer is not None and not reply.answer.found
    assert "半导体" in reply.answer.answer and WEEKLY_TITLE in reply.answer.answer


def test_console_answers_questions_with_citations(dispatcher):
    text = handle_line(dispatcher, QUESTION, "console:test")
    assert all(name in text for name in ANSWER_NAMES) and WEEKLY_TITLE in text


# --- one new command, every surface -------------------------------------------------------------------


def test_a_registered_command_works_and_is_listed(service):
    dispatcher = Dispatcher(service)

    def run_count(ctx: Context, args: str) -> Reply:
        n = len(ctx.service.reports())
        return Reply.message(Say(f"{n} notes indexed", f"已索引 {n} 篇研报"))

    dispatcher.register(
        Command("count", run_count, summary=Say("how many notes", "研报数量"), aliases=("n",))
    )
    assert dispatcher.handle("/count", READER).text("en") == "4 notes indexed"
    assert dispatcher.handle("/n", READER).text("zh") == "已索引 4 篇研报"
    assert dispatcher.handle("count", READER, bare=True).text("en") == "4 notes indexed"
    assert "`/count`" in dispatcher.help_text("en") and "研报数量" in dispatcher.help_text("zh")
    assert handle_line(dispatcher, "/count", "console:test") == "4 notes indexed"


def test_a_failing_command_is_an_error_reply(service):
    dispatcher = Dispatcher(service)

    def broken(ctx: Context, args: str) -> Reply:
        raise RuntimeError("the store went away")

    dispatcher.register(Command("broken", broken, summary=Say("fails")))
    reply = dispatcher.handle("/broken", READER)
    assert reply.tone == "error" and "the store went away" in reply.text("en")


# --- uploads and votes ---------------------------------------------------------------------------------


def test_upload_rules(dispatcher, tmp_path):
    assert dispatcher.upload_refusal(READER, "note.pdf").tone == "refused"
    wrong = dispatcher.upload_refusal(ADMIN, "估值表.xlsx")
    assert ".xlsx file" in wrong.text("en") and ".pdf" in wrong.text("en") and ".xlsx" in wrong.text("zh")
    big = dispatcher.upload_refusal(ADMIN, "huge.txt", 2_400_000)
    assert "2.4 MB" in big.text("en") and "YANBAO_MAX_UPLOAD_MB" in big.text("zh")
    assert dispatcher.upload_refusal(ADMIN, "note.pdf", 1000) is None
    note = tmp_path / "上传的研报.txt"
    note.write_text(
        "【测试电子】半导体周报(20250106-20250112)\n\n测试证券研究所 2025年1月13日\n\n"
        "本周半导体设备国产化率继续提升,北方华创订单饱满,我们维持推荐评级。\n",
        encoding="utf-8",
    )
    reader_try = dispatcher.index_upload(READER, note, name=note.name, source="slack:F9/上传的研报.txt")
    assert reader_try.tone == "refused"
    indexed = dispatcher.index_upload(ADMIN, note, name=note.name, source="slack:F9/上传的研报.txt")
    assert indexed.kind == "indexed" and indexed.summary.reports and indexed.file_name == note.name


def test_a_vote_is_stored_once(dispatcher, service):
    vote = Vote(
        READER, "up", message_id="1700000000.000100", channel="C1", question=QUESTION, answer="金山办公 [1]"
    )
    assert dispatcher.vote(vote) is True
    assert dispatcher.vote(vote) is False  # a re-pushed click, a double click
    assert dispatcher.vote(Vote(READER, "down", message_id="1700000000.000100", channel="C1")) is True
    stored = [r for r in service.state.list_feedback() if r.get("message_id") == "1700000000.000100"]
    assert [r["vote"] for r in stored] == ["up", "down"] and stored[0]["question"] == QUESTION
    with pytest.raises(ValueError):
        dispatcher.vote(Vote(READER, "meh", message_id="x"))
