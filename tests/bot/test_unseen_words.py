"""Answers on notes in the shapes left after issue 10's second round (third round): English words
the glossary lacks are read through the English -> Chinese dictionary, a two-figure answer spread over
two sentences of one paragraph quotes both, a note's own publish date and analysts answer questions
about the note, a masthead is not a title, short English company names (Zoomlion, Sany) name their
company, and a comparables row is never the answer to a target price it does not give."""

from __future__ import annotations

from datetime import date

import pytest

from bot.service import Yanbao
from index.library import Library
from tests.helpers import make_settings

TODAY = date(2026, 3, 20)

# A weekly as a PDF text extract: banner words run together with a bar, analysts with their
# registration labels on the same line, a heading over each body paragraph.
MEDIA_WEEKLY = """\
证券研究报告|行业周报
传媒行业周报(20260309-20260313)
票房回暖,游戏出海延续高增
评级:强于大市(维持)
分析师:宋嘉宁 执业证书编号:S1060524070003 邮箱:songjianing@pingan.com.cn
分析师:韩立 执业证书编号:S1060525020001 邮箱:hanli@pingan.com.cn
报告发布日期:2026年03月15日
电影:票房回暖
3月上旬全国电影票房为21.6亿元,同比增长18%。分影片看,国产影片票房占比为83%。3月上旬全国观影人次为5,200万,同比增长12%。
游戏:出海收入延续高增
2月国产自研游戏海外实际销售收入为17.9亿美元,同比增长15%。
投资建议
影视院线:万达电影、光线传媒
游戏:吉比特、恺英网络
本文为测试所写:券商与股票名称真实,观点、数据与分析师均为虚构。
"""

# A company update under a desk masthead, with a comparables table that gives P/E and no target price.
COMPANY_UPDATE = """\
国联证券研究所 | 公司研究 | 三一重工(600031.SH)
三一重工:海外收入占比继续提升
分析师:陆思远 执业证书编号:S0590524110002
分析师:何欣然 执业证书编号:S0590525030004
发布日期:2026年3月10日
2月国内RV减速器出货量为6.8万台,同比增长25%,国产化率提升至45%。
盈利预测与估值:我们预计公司2026年归母净利润为78.5亿元,给予2026年20倍市盈率,目标价为24.50元,维持买入评级。
可比公司估值
公司 | 代码 | 市盈率2026E | 市盈率2027E
中联重科 | 000157.SZ | 14.2 | 12.6
徐工机械 | 000425.SZ | 12.8 | 11.1
本文为测试所写:券商与股票名称真实,观点、数据与分析师均为虚构。
"""

# A monthly strategy note out before the month it covers, under its desk's name; a company note of
# no known broker dated in that month.
STRATEGY = """\
国联证券研究所
2026年3月策略:两会前后布局科技成长
发布日期:2026年2月27日
3月市场展望:两会政策预期升温,流动性季节性宽松,科技成长风格有望占优。
配置建议:电子、计算机、有色金属。
本文为测试所写:券商名称真实,观点与数据均为虚构。
"""
COMPANY_NOTE = """\
中國A股:海天味業(603288.SH)
2026年3月5日
經營策略調整:公司2026年策略重心轉向渠道庫存管理,1-2月收入同比增長6%。
我們維持買入評級,策略上建議逢低布局。
本文為測試所寫:觀點與數據均為虛構。
"""


@pytest.fixture(scope="module")
def service(tmp_path_factory) -> Yanbao:
    folder = tmp_path_factory.mktemp("unseen")
    (folder / "media_weekly_20260315.txt").write_text(MEDIA_WEEKLY, encoding="utf-8")
    (folder / "company_update_20260310.txt").write_text(COMPANY_UPDATE, encoding="utf-8")
    (folder / "strategy_20260227.txt").write_text(STRATEGY, encoding="utf-8")
    (folder / "company_20260305.txt").write_text(COMPANY_NOTE, encoding="utf-8")
    settings = make_settings(folder)
    library = Library(settings)
    assert library.index(sorted(folder.glob("*.txt")), progress=False).added == 4
    return Yanbao(settings, library=library)


def ask(service: Yanbao, question: str):
    return service.ask(question, today=TODAY)


def test_english_words_the_glossary_lacks_find_the_chinese_sentence(service):
    answer = ask(service, "What was the box office in early March?")  # 票房
    assert answer.found and "21.6亿元" in answer.answer
    answer = ask(service, "How many RV reducers were shipped in February?")  # 减速器
    assert answer.found and "6.8万台" in answer.answer


def test_two_figures_asked_together_in_two_sentences_of_a_paragraph_are_both_quoted(service):
    answer = ask(service, "3月上旬电影票房和观影人次分别是多少?")
    assert answer.found
    assert "21.6亿元" in answer.answer and "5,200万" in answer.answer
    # the sentence between them answers neither part
    assert "83%" not in answer.answer


def test_the_publish_date_is_the_named_brokers_note(service):
    answer = ask(service, "国联证券三一重工点评是哪天发布的?")
    assert answer.found and "2026年3月10日" in answer.answer
    answer = ask(service, "When was the Ping An Securities media weekly published?")
    assert answer.found and "2026-03-15" in answer.answer


def test_the_month_a_note_covers_is_not_taken_for_its_publish_date(service):
    # the March strategy note came out on Feb 27; Guolian's company update is dated March 10
    for question in (
        "When was Guolian's March 2026 strategy note published?",
        "国联证券3月策略是哪天发布的?",
    ):
        answer = ask(service, question)
        assert answer.found and ("2026-02-27" in answer.answer or "2026年2月27日" in answer.answer), question


def test_who_wrote_a_note_is_answered_by_its_analysts_without_their_labels(service):
    answer = ask(service, "平安证券传媒周报的分析师是谁?")
    assert answer.found and "宋嘉宁" in answer.answer and "韩立" in answer.answer
    answer = ask(service, "Who wrote Guolian's Sany update?")
    assert answer.found and "陆思远" in answer.answer and "何欣然" in answer.answer
    assert "执业" not in answer.answer and "编号" not in answer.answer


def test_a_masthead_or_the_desks_name_is_not_the_title(service):
    titles = {r.title for r in service.library.reports()}
    assert "三一重工:海外收入占比继续提升" in titles  # not "国联证券研究所 | 公司研究 | 三一重工(600031.SH)"
    assert "2026年3月策略:两会前后布局科技成长" in titles  # not "国联证券研究所"
    assert any(t.startswith("传媒行业周报") for t in titles)  # not "证券研究报告|行业周报"


def test_a_comparables_row_answers_its_pe_and_never_a_target_price_it_lacks(service):
    answer = ask(service, "What 2026E P/E does Guolian's comparables table show for Zoomlion?")
    assert answer.found and "14.2" in answer.answer and "12.8" not in answer.answer
    # Zoomlion's row has no target price; Sany's 24.50 is not Zoomlion's
    answer = ask(service, "What target price does Guolian give Zoomlion?")
    assert not answer.found or "24.50" not in answer.answer
    assert "14.2" not in answer.answer
