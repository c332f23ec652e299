"""Answers that hold the period and the table cell asked for (issue 10, second round): a year,
month or quarter the notes do not give is refused rather than answered with a neighbouring one; a
forecast table answers by row label x year column; the sentence naming the asked month wins."""

from __future__ import annotations

from datetime import date

import pytest

from bot.service import Yanbao
from index.library import Library
from index.normalize import search_form
from index.readers import read_bytes
from index.tables import find_cell
from tests.helpers import make_settings

TODAY = date(2026, 3, 20)

# A company note as a PDF text extract: a space-separated forecast table and a pipe segment table
# whose header is a line of its own, as brokers print them.
COMPANY_NOTE = """\
万联智造首次覆盖:工业软件龙头
来源:华安证券研究所
发布日期:2026年3月5日
盈利预测与投资评级:我们预计公司2025-2027年营业收入分别为109.6/142.3/176.5亿元,对应EPS分别为1.39/2.03/2.63元。
主要财务指标
项目 2024A 2025E 2026E 2027E
营业收入(百万元) 8,271 10,960 14,230 17,650
归母净利润(百万元) 662 1,105 1,612 2,085
摊薄每股收益(元) 0.83 1.39 2.03 2.63
表1:分业务收入预测(单位:百万元)
业务 | 2024A | 2025E | 2026E | 2027E
工业软件 | 3,470 | 5,260 | 7,830 | 10,590
系统集成 | 3,310 | 3,950 | 4,410 | 4,830
"""

# A morning digest: last month's figure beside next month's forecast.
DIGEST = """\
华安证券研究所晨会纪要-20260309
【汽车】2月车市回顾:春节后复苏好于预期
2月乘用车零售约150万辆,同比增长8.0%;新能源车零售约85万辆,渗透率达到56.7%。我们预计3月乘用车零售约210万辆,同比增长约6%。
【策略】3月金股组合:贵州茅台、宁德时代、招商银行。
【宏观】我们预计二季度PPI同比降幅有望收窄至0.5%以内。
"""

# A company update whose first line is the desk's masthead: the company is named once, below it.
UPDATE = """\
华安证券研究所 | 公司研究
贵州茅台(600519.SH):批价企稳,上调目标价
业绩回顾:2025年公司实现营业收入1,820亿元,同比增长9.5%;海外收入占比约4%。
"""

# A weekly whose picks are "label: names" lines under an 投资建议 heading, with no verb.
WEEKLY = """\
# 机械设备行业周报(20260309-20260313)
## 本周行情回顾
本周涨幅前三为兆威机电、鸣志电器、浙江荣泰。
## 投资建议
人形机器人:汇川技术、埃斯顿、绿的谐波;

工程机械:三一重工、徐工机械、中联重科;
"""


@pytest.fixture(scope="module")
def service(tmp_path_factory) -> Yanbao:
    folder = tmp_path_factory.mktemp("periods")
    (folder / "company_note_20260305.txt").write_text(COMPANY_NOTE, encoding="utf-8")
    (folder / "morning_20260309.txt").write_text(DIGEST, encoding="utf-8")
    (folder / "update_20260318.txt").write_text(UPDATE, encoding="utf-8")
    (folder / "weekly_20260315.md").write_text(WEEKLY, encoding="utf-8")
    settings = make_settings(folder)
    library = Library(settings)
    notes = sorted([*folder.glob("*.txt"), *folder.glob("*.md")])
    assert library.index(notes, progress=False).added == 4
    return Yanbao(settings, library=library)


def ask(service: Yanbao, question: str):
    return service.ask(question, today=TODAY)


def test_a_table_cell_is_the_row_asked_crossed_with_the_year_asked(service):
    answer = ask(service, "万联智造2026E归母净利润预测是多少百万元?")
    assert answer.found
    assert "1,612" in answer.answer
    assert "1,105" not in answer.answer.split("（表中原文")[0]  # the cell, not its neighbour


def test_a_pipe_table_row_is_answered_with_its_header_from_the_line_above(service):
    answer = ask(service, "万联智造系统集成业务2025E收入多少?")
    assert answer.found and "3,950" in answer.answer


def test_a_year_the_forecasts_do_not_reach_is_refused(service):
    for question in (
        "What EPS does Huaan forecast for 万联智造 in 2028?",
        "万联智造2028年营业收入预测是多少?",
    ):
        assert not ask(service, question).found, question


def test_the_sentence_of_the_month_asked_wins_over_last_months(service):
    answer = ask(service, "华安证券预计3月乘用车零售多少辆?")
    assert answer.found and "210万辆" in answer.answer and "150万辆" not in answer.answer


def test_another_months_portfolio_or_quarters_forecast_is_not_an_answer(service):
    assert not ask(service, "华安证券4月金股组合有哪些?").found
    assert not ask(service, "华安证券预计三季度PPI同比降幅多少?").found
    assert ask(service, "华安证券预计二季度PPI同比降幅多少?").found


def test_table_rows_of_a_text_note_carry_their_header():
    document = read_bytes(COMPANY_NOTE.encode(), "note.txt")
    rows = [b for b in document.blocks if b.kind == "table_row"]
    assert len(rows) == 7  # two headers, five rows
    assert all("2026E" in (row.context or "") for row in rows)
    assert "表1" in rows[-1].context  # the caption goes with the header


def test_find_cell_refuses_a_year_the_header_lacks():
    text = "项目 2024A 2025E 2026E\n市盈率(P/E) 82.4 49.2 33.7"

    def fits(cell: str) -> float:
        return 1.0 if "市盈率" in search_form(cell) else 0.0

    assert find_cell(text, fits, "2025").value == "49.2"
    assert find_cell(text, fits, "2028") is None


def test_a_company_note_answers_for_its_company_where_it_says_gongsi(service):
    answer = ask(service, "What share of Kweichow Moutai's revenue came from overseas in 2025?")
    assert answer.found and "4%" in answer.answer


def test_picks_printed_as_label_and_names_answer_a_recommendation_question(service):
    answer = ask(service, "Which humanoid robot stocks does Huaan recommend?")
    assert answer.found
    assert all(name in answer.answer for name in ("汇川技术", "埃斯顿", "绿的谐波"))
    assert "兆威机电" not in answer.answer  # the week's gainers are not picks
