"""Channel-scoped libraries: a question asked in a scoped channel never cites a note outside the
scope, also in a follow-up, /weekly and /changes; DMs follow the person's scope; unmapped
conversations the default; yanbao.toml's [scopes] apply until /scope replaces them. The scope is
applied inside the search: even the candidates retrieved (`--hits`) are all in scope.

The notes: the two Shanxi telecom weeklies (tests/fixtures/, in folder shanxi/), the 中泰 electronics
weekly and a strategy note (tests/fixtures/, in folder other/), and the samples/ notes (国盛 computer
weekly and others, in folder samples/). Slack is the fake Web API on 127.0.0.1, spoken to with
signed requests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.answer import Answer
from bot.dispatch import Dispatcher, Reply
from bot.permissions import OPERATOR, Requester
from bot.scopes import Scope
from bot.service import Yanbao
from bot.slack.server import build_asgi
from index.settings import Settings, load_settings
from tests.fakes.slack_api import FakeSlackAPI, ServedApp, SlackSender, mention_event, new_ts
from tests.helpers import FIXTURES, note_paths

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
ADMIN, READER = "UADMIN", "UREADER"
SECRET = "scope-tests-signing-secret"

# questions whose best answers are in other brokers' notes
QUESTIONS = [
    "国盛推荐哪些AI Agent标的？",
    "中泰建议关注哪些端侧AI芯片？",
    "Which stocks does Guosheng recommend for domestic compute?",
    "申万电子指数本周涨跌幅是多少？",
    "光模块推荐哪些公司？",
    "液冷渗透率是多少？",
]


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("scoped-reports")
    out = {name: root / name for name in ("shanxi", "other", "samples")}
    for folder in out.values():
        folder.mkdir()
    for note in ("shanxi_telecom_weekly_20250113.txt", "shanxi_telecom_weekly_20250120.txt"):
        shutil.copy(FIXTURES / note, out["shanxi"] / note)
    for note in note_paths():
        shutil.copy(note, out["other"] / note.name)
    for note in SAMPLES.iterdir():
        if note.suffix in (".txt", ".html"):
            shutil.copy(note, out["samples"] / note.name)
    return out


@pytest.fixture(scope="module")
def slack():
    with FakeSlackAPI() as fake:
        yield fake


@pytest.fixture(scope="module")
def settings(tmp_path_factory, folders, slack) -> Settings:
    return Settings(
        home=tmp_path_factory.mktemp("scoped-home"),
        embed_model="none",
        admins=(f"slack:{ADMIN}",),
        report_dirs=tuple(folders.values()),
        slack_bot_token=slack.bot_token,
        slack_signing_secret=SECRET,
        slack_api_url=slack.api_url,
        scopes={"slack:CTOML": {"brokers": ("国盛证券",)}},
    )


@pytest.fixture(scope="module")
def service(settings) -> Yanbao:
    yanbao = Yanbao(settings)
    summary = yanbao.reindex(by=OPERATOR)
    assert summary.ok, summary.failed
    return yanbao


@pytest.fixture(scope="module")
def dispatcher(service) -> Dispatcher:
    return Dispatcher(service)


def run(dispatcher: Dispatcher, text: str, channel: str | None, user: str = READER, **options) -> Reply:
    return dispatcher.handle(text, Requester("slack", user), channel=channel, **options)


def brokers_cited(answer: Answer) -> set[str | None]:
    return {c.broker for c in answer.citations}


def test_a_scoped_channel_cites_only_its_brokers_notes(dispatcher, service, folders):
    done = run(dispatcher, "/scope broker 山证", "CSHANXI", user=ADMIN)
    assert done.tone == "success" and "2 of" in done.text("en")
    for question in QUESTIONS:
        reply = run(dispatcher, question, "CSHANXI")
        assert brokers_cited(reply.answer) <= {"山西证券"}, (question, reply.answer.answer)
        for other in ("国盛证券", "中泰证券"):
            assert other not in reply.answer.answer or not reply.answer.found, (question, reply.answer.answer)
    # the same questions unscoped do cite the other brokers
    open_answers = [run(dispatcher, q, "COPEN").answer for q in QUESTIONS[:2]]
    assert {"国盛证券", "中泰证券"} <= set().union(*(brokers_cited(a) for a in open_answers))


def test_the_scope_is_applied_inside_the_search_not_after_it(service, folders):
    scope = Scope(brokers=("山西证券",))
    answer = service.ask("国盛推荐哪些AI Agent标的？", hits=40, where=scope.filter())
    assert answer.hits, "something in scope was retrieved"
    assert {hit["broker"] for hit in answer.hits} == {"山西证券"}
    folder_scope = Scope(folders=(str(folders["shanxi"]),))
    answer = service.ask("光模块推荐哪些公司？", hits=40, where=folder_scope.filter())
    assert answer.hits and all("/shanxi/" in hit["source"] for hit in answer.hits)


def test_follow_ups_stay_in_scope(dispatcher):
    run(dispatcher, "/scope broker 山证", "CTHREAD", user=ADMIN)
    first = run(dispatcher, "山证推荐哪些光模块标的？", "CTHREAD", conversation="slack:CTHREAD:1.0")
    assert first.answer.found and brokers_cited(first.answer) == {"山西证券"}
    for follow_up in ("国盛呢？", "and what about Zhongtai's chip picks?", "AI Agent呢？"):
        reply = run(dispatcher, follow_up, "CTHREAD", conversation="slack:CTHREAD:1.0")
        assert brokers_cited(reply.answer) <= {"山西证券"}, (follow_up, reply.answer.answer)


def test_weekly_and_changes_stay_in_scope(dispatcher):
    run(dispatcher, "/scope broker 国盛", "CGUOSHENG", user=ADMIN)
    weekly = run(dispatcher, "/weekly", "CGUOSHENG").answer
    assert weekly.found and brokers_cited(weekly) == {"国盛证券"}
    changes = run(dispatcher, "/changes", "CGUOSHENG").answer
    assert brokers_cited(changes) <= {"国盛证券"} and "山西证券" not in changes.answer
    question = run(dispatcher, "what changed in Shanxi's picks since last week?", "CGUOSHENG").answer
    assert brokers_cited(question) <= {"国盛证券"} and "光迅科技" not in question.answer
    # unscoped, the same commands see every broker's latest weekly
    assert {"山西证券", "中泰证券"} <= brokers_cited(run(dispatcher, "/weekly", "COPEN2").answer)
    assert "光迅科技" in run(dispatcher, "/changes 山证", "COPEN2").answer.answer


def test_sector_and_folder_scopes(dispatcher, folders):
    run(dispatcher, "/scope sector telecom", "CTELECOM", user=ADMIN)
    telecom = run(dispatcher, "推荐哪些标的？", "CTELECOM").answer
    assert telecom.found and all("通信" in c.title for c in telecom.citations)
    run(dispatcher, f"/scope folder {folders['samples']}", "CSAMPLES", user=ADMIN)
    for question in QUESTIONS:
        answer = run(dispatcher, question, "CSAMPLES").answer
        assert all(c.source.startswith(str(folders["samples"])) for c in answer.citations), question
    assert "I don't know the sector" in run(dispatcher, "/scope sector 光模块", "CX", user=ADMIN).text("en")
    assert "I don't know the broker" in run(dispatcher, "/scope broker 不存在证券", "CX", user=ADMIN).text(
        "en"
    )


def test_direct_messages_follow_the_persons_scope(dispatcher):
    done = run(dispatcher, f"/scope user <@{READER}> broker 中泰证券", "CADMIN", user=ADMIN)
    assert done.tone == "success"
    dm = run(dispatcher, "推荐哪些标的？", "DREADER", direct=True).answer
    assert dm.found and brokers_cited(dm) == {"中泰证券"}
    other = run(dispatcher, "推荐哪些标的？", "DOTHER", user="UOTHER", direct=True).answer
    assert other.found  # another person, unmapped: the default (everything)
    shown = run(dispatcher, "/scope", "DREADER", direct=True).text("en")
    assert "from 中泰证券" in shown


def test_the_default_for_unmapped_conversations_and_yanbao_toml(tmp_path, settings, service):
    fresh = Yanbao(settings.replace(home=tmp_path / "home"), library=service.library)
    dispatcher = Dispatcher(fresh)
    # yanbao.toml maps CTOML to 国盛证券
    assert brokers_cited(run(dispatcher, "推荐哪些标的？", "CTOML").answer) == {"国盛证券"}
    assert "yanbao.toml" in run(dispatcher, "/scope", "CTOML").text("en")
    assert run(dispatcher, "/scope default none", "CADMIN").tone == "refused"
    run(dispatcher, "/scope default none", "CADMIN", user=ADMIN)
    refused = run(dispatcher, "推荐哪些标的？", "CUNMAPPED")
    assert refused.kind == "message" and refused.tone == "warning" and "/scope" in refused.text("en")
    assert run(dispatcher, "/weekly", "CUNMAPPED").kind == "message"
    assert "No change" not in (run(dispatcher, "/changes", "CUNMAPPED").text("en") or "")
    assert run(dispatcher, "/subscribe weekly", "CUNMAPPED").title.en == "Not subscribed"
    # mapped conversations and the console are unaffected
    assert run(dispatcher, "推荐哪些标的？", "CTOML").answer.found
    assert dispatcher.handle("推荐哪些标的？", OPERATOR).answer.found
    # /scope replaces the file's mapping; clear goes back to it
    run(dispatcher, "/scope broker 山证", "CTOML", user=ADMIN)
    assert brokers_cited(run(dispatcher, "推荐哪些标的？", "CTOML").answer) == {"山西证券"}
    cleared = run(dispatcher, "/scope clear", "CTOML", user=ADMIN)
    assert "国盛证券" in cleared.text("en")
    assert "slack:CTOML: notes from 国盛证券 (yanbao.toml)" in run(
        dispatcher, "/scope list", "C", user=ADMIN
    ).text("en")


def test_scopes_in_yanbao_toml_are_read_and_checked(tmp_path):
    (tmp_path / "yanbao.toml").write_text(
        '[scopes]\ndefault = "none"\n"slack:C0123" = { brokers = ["山西证券"], sectors = ["通信"] }\n',
        encoding="utf-8",
    )
    settings = load_settings({"YANBAO_HOME": str(tmp_path)})
    assert settings.scope_default == "none"
    assert settings.scopes == {"slack:C0123": {"brokers": ("山西证券",), "sectors": ("通信",)}}
    (tmp_path / "yanbao.toml").write_text(
        '[scopes]\n"C0123" = { brokers = ["山西证券"] }\n', encoding="utf-8"
    )
    from index.settings import SettingsError

    with pytest.raises(SettingsError, match="C0123"):
        load_settings({"YANBAO_HOME": str(tmp_path)})


# --- through Slack -----------------------------------------------------------------------------------


def test_a_scoped_slack_channel_answers_mentions_and_thread_follow_ups_within_its_scope(slack, service):
    Dispatcher(service).handle("/scope broker 中泰", Requester("slack", ADMIN), channel="CZT")

    def answers(thread: str) -> list:
        return [m for m in slack.thread("CZT", thread) if m.blocks and m.blocks[-1]["type"] == "actions"]

    with ServedApp(build_asgi(service, service.settings)) as bot:
        sender = SlackSender(bot.events_url, SECRET)
        try:
            ts = new_ts()
            sender.event(
                mention_event("<@UBOT> 国盛推荐哪些AI Agent标的？", user=READER, channel="CZT", ts=ts)
            )
            (outside,) = slack.wait_for(lambda: answers(ts), 60)
            assert "金山办公" not in outside.all_text() and "国盛证券 ·" not in outside.all_text()

            ts = new_ts()
            sender.event(
                mention_event("<@UBOT> 中泰建议关注哪些端侧AI芯片？", user=READER, channel="CZT", ts=ts)
            )
            (inside,) = slack.wait_for(lambda: answers(ts), 60)
            assert "晶晨股份" in inside.all_text() and "中泰证券" in inside.all_text()
            follow = mention_event("<@UBOT> 国盛呢？", user=READER, channel="CZT", ts=new_ts(), thread_ts=ts)
            sender.event(follow)
            later = slack.wait_for(lambda: answers(ts)[1:] or None, 60)[0]
            assert "国盛证券 ·" not in later.all_text() and "金山办公" not in later.all_text()
        finally:
            sender.close()
