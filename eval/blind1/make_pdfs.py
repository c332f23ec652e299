"""Writes the held-out PDF notes in the shapes real broker PDFs come in.

Each note: a two-column first page (a narrow sidebar with rating, analysts, SAC codes, e-mails,
market data, a price chart and related reports, beside the main text), running header and footer
on later pages, data tables with a caption and units, and a closing disclaimer / rating-definition
page. Text uses the CID fonts reportlab ships (STSong-Light for simplified, MSung-Light for
traditional), so no font file is needed.

The content lives in NOTES (data, not layout) so that eval/blind1/check.py can find the paragraph
an evidence string belongs to. Every view, figure, analyst and registration code is invented.

    python3 -m venv /tmp/evalvenv && /tmp/evalvenv/bin/pip install reportlab
    /tmp/evalvenv/bin/python eval/blind1/make_pdfs.py      # writes eval/blind1/notes/*.pdf
"""

from __future__ import annotations

from pathlib import Path

NOTES_DIR = Path(__file__).parent / "notes"

INVENTED = "【评测样例:本文为 yanbao 留出评测集虚构,券商名与股票名为真实名称,观点、数据与分析师均为虚构】"

# A note is a dict:
#   file, font, banner (first-page top line), date_line, title, subtitle,
#   sidebar: [(label, text)], main: [block], body: [block] (pages after the first),
#   header (running header on later pages), footer, disclaimer: [paragraph]
# A block is ("h", text) heading, ("p", text) paragraph, or
#   ("table", {"caption", "columns", "rows", "source"}).

SOOCHOW_HUDIAN = {
    "file": "soochow_hudian_initiation_20260119.pdf",
    "font": "STSong-Light",
    "banner": "证券研究报告·公司深度研究·元件",
    "date_line": "2026年01月19日",
    "title": "沪电股份(002463)",
    "subtitle": "AI服务器PCB龙头,高多层与HDI双轮驱动",
    "rating": "买入(首次)",
    "sidebar": [
        ("证券分析师", "王子衡"),
        ("", "执业证书:S0600523050002"),
        ("", "wangzh@dwzq.com.cn"),
        ("研究助理", "许若彤"),
        ("", "执业证书:S0600124080011"),
        ("", "xurt@dwzq.com.cn"),
        ("chart", "股价走势(沪电股份 vs 沪深300)"),
        ("市场数据", ""),
        ("", "收盘价(元) 68.50"),
        ("", "一年最低/最高价 32.10/79.80"),
        ("", "市净率(倍) 8.21"),
        ("", "总市值(百万元) 131,760"),
        ("基础数据", ""),
        ("", "每股净资产(元,LF) 8.34"),
        ("", "资产负债率(%,LF) 41.25"),
        ("", "总股本(百万股) 1,923.50"),
        ("相关研究", ""),
        ("", "《PCB行业2026年度策略:AI算力驱动量价齐升》2025-12-08"),
        ("", "《元件行业周报:覆铜板涨价落地》2026-01-12"),
    ],
    "main": [
        ("h", "投资要点"),
        (
            "p",
            "高多层PCB龙头,AI服务器与交换机驱动量价齐升:公司是全球领先的高多层、高频高速PCB制造商,"
            "企业通讯市场板占营收比重约75%。2025年前三季度公司实现营业收入135.1亿元,同比增长49.9%;"
            "归母净利润27.2亿元,同比增长47.0%,毛利率提升至35.6%。",
        ),
        (
            "p",
            "800G交换机与GPU加速卡带来结构升级:公司是北美头部交换机厂商800G交换机板的核心供应商,"
            "我们预计2026年公司800G及以上交换机板收入占比有望超过30%,单平米均价较400G产品提升约60%。",
        ),
        (
            "p",
            "产能扩张打开成长空间:泰国工厂已于2025年二季度量产,黄石二厂与昆山HDI新产线预计2026年下半年"
            "投产,届时公司总产能较2024年提升约40%。",
        ),
        (
            "p",
            "盈利预测与投资评级:我们预计公司2025-2027年归母净利润分别为38.20/52.60/66.90亿元,"
            "对应当前股价PE分别为34/25/20倍。参考可比公司估值,给予公司2026年30倍PE,对应目标价82.00元,"
            "首次覆盖,给予“买入”评级。",
        ),
        ("p", "风险提示:AI服务器需求不及预期;覆铜板等原材料价格上涨;海外工厂产能爬坡不及预期。"),
        (
            "table",
            {
                "caption": "盈利预测与估值",
                "columns": ["盈利预测与估值", "2024A", "2025E", "2026E", "2027E"],
                "rows": [
                    ["营业总收入(百万元)", "13,342", "19,060", "25,480", "31,720"],
                    ["同比(%)", "49.26", "42.86", "33.68", "24.49"],
                    ["归母净利润(百万元)", "2,587", "3,820", "5,260", "6,690"],
                    ["同比(%)", "71.05", "47.66", "37.70", "27.19"],
                    ["EPS-最新摊薄(元/股)", "1.34", "1.99", "2.73", "3.48"],
                    ["P/E(现价&最新摊薄)", "51.12", "34.42", "25.09", "19.68"],
                ],
                "source": "数据来源:Wind,本研究所预测,股价截至2026年1月16日",
            },
        ),
    ],
    "body": [
        ("h", "1. 公司概况:深耕PCB三十余年,企业通讯板为核心"),
        (
            "p",
            "公司成立于1992年,总部位于江苏昆山,主要产品为14-38层企业通讯市场板和中高阶汽车板。"
            "2024年公司企业通讯市场板营收100.9亿元,占比75.6%;汽车板营收24.2亿元,占比18.1%。"
            "公司前五大客户收入占比约48%,客户集中于北美交换机、服务器与汽车电子龙头。",
        ),
        ("h", "2. 行业:AI服务器驱动高多层PCB量价齐升"),
        (
            "p",
            "据行业机构预测,2026年全球PCB产值约860亿美元,同比增长8.5%,其中18层及以上高多层板产值"
            "同比增速约25%,为增速最快的细分品类。单台AI服务器的PCB价值量约为通用服务器的5-8倍,"
            "GPU加速卡与交换机板对高频高速覆铜板和背钻工艺要求更高,行业供给集中于少数头部厂商。",
        ),
        ("h", "3. 盈利预测"),
        (
            "p",
            "核心假设:企业通讯市场板受益于800G交换机与AI服务器放量,2025-2027年收入增速分别为48.9%/37.7%/25.8%;"
            "汽车板受益于智能驾驶渗透,收入增速约16%-19%;综合毛利率分别为35.2%/36.0%/36.3%。",
        ),
        (
            "table",
            {
                "caption": "表2:公司分业务收入预测(单位:百万元)",
                "columns": ["业务", "2024A", "2025E", "2026E", "2027E"],
                "rows": [
                    ["企业通讯市场板", "10,090", "15,020", "20,680", "26,010"],
                    ["汽车板", "2,420", "2,880", "3,370", "3,900"],
                    ["其他业务", "832", "1,160", "1,430", "1,810"],
                    ["合计", "13,342", "19,060", "25,480", "31,720"],
                ],
                "source": "资料来源:公司公告,本研究所预测",
            },
        ),
    ],
    "header": ("沪电股份(002463)公司深度研究", "2026年01月19日"),
    "footer": "请务必阅读正文之后的免责声明部分",
    "disclaimer": [
        "免责声明",
        "本报告仅供本公司客户使用。本报告中的信息均来源于公开资料,本公司对这些信息的准确性和完整性不作任何保证。"
        "在任何情况下,本报告中的信息或所表述的意见并不构成对任何人的投资建议。",
        "投资评级说明",
        "公司投资评级:买入:预期未来6个月个股涨跌幅相对基准在15%以上;增持:预期未来6个月个股涨跌幅相对基准介于5%与15%之间;"
        "中性:预期未来6个月个股涨跌幅相对基准介于-5%与5%之间;减持:介于-15%与-5%之间;卖出:在-15%以下。",
        "研究所地址:苏州工业园区星阳街5号 邮政编码:215021",
        INVENTED,
    ],
}

ZHESHANG_WEEKLY = {
    "file": "zheshang_computer_weekly_20260201.pdf",
    "font": "STSong-Light",
    "banner": "证券研究报告 | 行业周报 | 计算机",
    "date_line": "2026年02月01日",
    "title": "计算机行业周报(20260126-20260130)",
    "subtitle": "春节前大模型密集发布,数据要素政策加码",
    "rating": "行业评级:看好(维持)",
    "sidebar": [
        ("分析师", "林子昂"),
        ("", "执业证书号:S1230523080004"),
        ("", "linziang@stocke.com.cn"),
        ("联系人", "郑雨晴"),
        ("", "zhengyuqing@stocke.com.cn"),
        ("chart", "行业走势图(计算机 vs 沪深300)"),
        ("相关报告", ""),
        ("", "1《AI应用商业化提速,信创招标回暖—计算机行业周报》2026.01.25"),
        ("", "2《AI Agent进入收费验证期—行业周报》2026.01.18"),
        ("", "3《2026年计算机年度策略:AI应用与自主可控共振》2025.12.20"),
    ],
    "main": [
        ("h", "投资要点"),
        (
            "p",
            "本周行情:本周(1月26日-1月30日)计算机(申万)指数下跌1.87%,跑输沪深300指数1.02个百分点,"
            "在31个申万一级行业中排名第25;年初至今计算机指数累计上涨7.7%。",
        ),
        (
            "p",
            "AI应用:春节前国内多家厂商密集发布新一代大模型,推理模型百万Token输出价格降至2元,较一年前下降约80%。"
            "我们认为模型降价将加速Agent在办公、编程与营销场景的渗透,AI应用板块有望迎来春季行情。",
        ),
        (
            "p",
            "数据要素:国家数据局发布公共数据资源授权运营实施规范,我们预计2026年公共数据授权运营市场规模约350亿元,"
            "同比增长约60%,地方数据集团与数据交易所率先受益。",
        ),
        ("h", "投资建议"),
        ("p", "AI应用:金山办公、万兴科技、福昕软件;"),
        ("p", "AI算力:海光信息、浪潮信息;"),
        ("p", "数据要素:云赛智联、易华录、人民网。"),
        ("p", "风险提示:AI应用商业化不及预期;数据要素政策落地不及预期;行业竞争加剧。"),
    ],
    "body": [
        ("h", "1. 本周行情回顾"),
        (
            "p",
            "本周计算机板块回调,细分领域中数据要素板块逆势上涨2.4%,AI算力板块下跌4.1%,跌幅居前;"
            "个股方面,本周涨幅前三为易华录、云赛智联、福昕软件,跌幅前三为浪潮信息、中科曙光、海光信息。",
        ),
        ("h", "2. 重点公司盈利预测"),
        (
            "table",
            {
                "caption": "表1:重点公司盈利预测与估值(单位:亿元,元/股,倍)",
                "columns": [
                    "代码",
                    "公司",
                    "收盘价(元)",
                    "净利润2025E",
                    "净利润2026E",
                    "EPS2025E",
                    "EPS2026E",
                    "PE2026E",
                    "评级",
                ],
                "rows": [
                    ["688111", "金山办公", "312.50", "18.6", "23.9", "4.02", "5.17", "60", "买入"],
                    ["300624", "万兴科技", "86.40", "0.8", "2.1", "0.41", "1.08", "80", "增持"],
                    ["688095", "福昕软件", "98.70", "0.5", "1.6", "0.55", "1.76", "56", "增持"],
                    ["688041", "海光信息", "165.20", "31.5", "45.8", "1.36", "1.97", "84", "买入"],
                    ["000977", "浪潮信息", "58.30", "26.4", "33.1", "1.79", "2.25", "26", "买入"],
                    ["600602", "云赛智联", "19.85", "2.6", "3.3", "0.19", "0.24", "83", "增持"],
                ],
                "source": "资料来源:Wind,浙商证券研究所(收盘价截至2026年1月30日)",
            },
        ),
    ],
    "header": ("计算机行业周报", "http://www.stocke.com.cn"),
    "footer": "请务必阅读正文之后的免责条款部分",
    "disclaimer": [
        "行业的投资评级",
        "以报告日后的6个月内,行业指数相对于沪深300指数的涨跌幅为标准:1.看好:行业指数相对于沪深300指数表现+10%以上;"
        "2.中性:行业指数相对于沪深300指数表现-10%~+10%以上;3.看淡:行业指数相对于沪深300指数表现-10%以下。",
        "法律声明及风险提示",
        "本报告由浙商证券股份有限公司(已具备中国证监会批复的证券投资咨询业务资格)制作。本报告中的信息均来源于我们认为可靠的已公开资料,"
        "但浙商证券股份有限公司及其关联机构对这些信息的真实性、准确性及完整性不作任何保证。",
        INVENTED,
    ],
}

CSC_STRATEGY = {
    "file": "csc_strategy_202602.pdf",
    "font": "STSong-Light",
    "banner": "证券研究报告·策略月报",
    "date_line": "发布日期:2026年1月31日",
    "title": "2026年2月策略:春季行情窗口开启",
    "subtitle": "科技与资源品共振,2月金股组合",
    "rating": "中信建投证券 策略研究",
    "sidebar": [
        ("分析师", "韩思远"),
        ("", "SAC编号:S1440520070003"),
        ("", "hansiyuan@csc.com.cn"),
        ("研究助理", "顾明哲"),
        ("", "gumingzhe@csc.com.cn"),
        ("相关研究报告", ""),
        ("", "2026.01.03 2026年1月策略:开门红可期,关注业绩预告"),
        ("", "2025.12.14 2026年A股投资策略:科技自立,新质起航"),
    ],
    "main": [
        ("h", "核心观点"),
        (
            "p",
            "2月市场展望:春节前后流动性季节性宽松,叠加全国两会政策预期,春季行情窗口开启。复盘2016-2025年,"
            "2月上证指数有8年上涨,平均涨幅2.9%,中小盘与成长风格占优的概率较高。",
        ),
        (
            "p",
            "行业配置:建议超配电子、有色金属、非银金融;标配机械设备、电力设备;低配房地产、食品饮料。"
            "主题方面关注AI算力国产化、商业航天与固态电池。",
        ),
        (
            "p",
            "1月回顾:1月A股震荡上行,上证指数上涨3.12%,科创50上涨7.86%,领涨主要宽基指数;"
            "全月日均成交额约1.78万亿元,融资余额增加约1,260亿元。",
        ),
        ("p", "2月金股:中微公司、立讯精密、紫金矿业、东方财富、宁德时代、万华化学。"),
        ("p", "风险提示:海外降息节奏不及预期;国内经济修复力度弱于预期;地缘政治冲突升级。"),
    ],
    "body": [
        ("h", "一、1月市场回顾"),
        (
            "table",
            {
                "caption": "图表1:主要宽基指数1月涨跌幅(%)",
                "columns": ["指数", "1月涨跌幅(%)", "1月末市盈率(倍)"],
                "rows": [
                    ["上证指数", "3.12", "15.8"],
                    ["深证成指", "4.05", "26.3"],
                    ["沪深300", "2.41", "13.9"],
                    ["创业板指", "5.63", "38.2"],
                    ["科创50", "7.86", "112.5"],
                    ["北证50", "-1.24", "58.7"],
                ],
                "source": "资料来源:Wind,中信建投证券",
            },
        ),
        ("h", "二、2月金股组合"),
        (
            "table",
            {
                "caption": "图表2:2月金股组合",
                "columns": ["代码", "名称", "所属行业", "推荐逻辑"],
                "rows": [
                    ["688012", "中微公司", "电子", "刻蚀设备国产替代加速,先进制程订单饱满"],
                    ["002475", "立讯精密", "电子", "AI服务器连接器与铜缆放量"],
                    ["601899", "紫金矿业", "有色金属", "铜金量价齐升,海外矿山项目投产"],
                    ["300059", "东方财富", "非银金融", "市场成交活跃,经纪与两融业务弹性大"],
                    ["300750", "宁德时代", "电力设备", "储能与海外动力电池需求强劲"],
                    ["600309", "万华化学", "基础化工", "MDI价格触底回升,新材料项目放量"],
                ],
                "source": "资料来源:中信建投证券",
            },
        ),
    ],
    "header": ("策略月报", "中信建投证券 CHINA SECURITIES"),
    "footer": "请参阅最后一页的重要声明",
    "disclaimer": [
        "分析师声明",
        "本报告署名分析师在此声明:(i)以勤勉的职业态度、专业审慎的研究方法,使用合法合规的信息,独立、客观地出具本报告,"
        "结论不受任何第三方的授意或影响。(ii)本人不曾因,不因,也将不会因本报告中的具体推荐意见或观点而直接或间接收到任何形式的补偿。",
        "评级说明",
        "股票评级标准:买入:相对涨幅15%以上;增持:相对涨幅5%—15%;中性:相对涨幅-5%—5%之间;减持:相对跌幅5%—15%;卖出:相对跌幅15%以上。",
        "中信建投证券股份有限公司 地址:北京市东城区朝内大街2号凯恒中心B座12层",
        INVENTED,
    ],
}

CMBI_HANT = {
    "file": "cmbi_giant_network_hant_20260205.pdf",
    "font": "MSung-Light",
    "banner": "招銀國際環球市場 | 睿智投資 | 公司更新",
    "date_line": "2026年2月5日",
    "title": "中國A股:巨人網絡(002558.SZ)",
    "subtitle": "新品流水超預期,上調目標價",
    "rating": "維持買入",
    "sidebar": [
        ("目標價", "人民幣48.00元(前值:人民幣40.00元)"),
        ("", "潛在升幅 +31.9%"),
        ("", "當前股價 人民幣36.40元"),
        ("分析師", "梁家豪"),
        ("", "(852) 3900 0000"),
        ("", "jhleung@cmbi.com.hk"),
        ("chart", "股價表現"),
        ("股東結構", ""),
        ("", "大股東 42.6%"),
        ("", "自由流通 57.4%"),
    ],
    "main": [
        ("h", "投資要點"),
        (
            "p",
            "新品表現強勁:公司新品《超自然行動組》春節版本上線後首月流水約9.6億元,高於我們此前預期的7億元;"
            "我們預計該產品2026年全年流水約68億元,帶動公司遊戲業務收入同比增長約45%。",
        ),
        (
            "p",
            "上調盈利預測:我們將公司2026/2027年經調整淨利潤預測分別上調18%/15%至31.5億元/36.2億元,"
            "並將目標價由人民幣40.00元上調至48.00元,基於20倍2026年市盈率,維持買入評級。",
        ),
        ("p", "風險提示:新遊流水衰減快於預期;監管政策變化;行業競爭加劇。"),
    ],
    "body": [
        ("h", "財務數據"),
        (
            "table",
            {
                "caption": "圖表1:盈利預測(單位:百萬元人民幣)",
                "columns": ["財年截至12月31日", "2024A", "2025E", "2026E", "2027E"],
                "rows": [
                    ["營業收入", "2,923", "4,860", "7,050", "7,980"],
                    ["經調整淨利潤", "1,478", "2,210", "3,150", "3,620"],
                    ["每股收益(元)", "0.61", "1.17", "1.63", "1.87"],
                ],
                "source": "資料來源:公司資料,招銀國際環球市場預測",
            },
        ),
    ],
    "header": ("巨人網絡(002558.SZ)", "2026年2月5日"),
    "footer": "敬請參閱尾頁之免責聲明",
    "disclaimer": [
        "免責聲明",
        "本報告由招銀國際環球市場有限公司編製,僅供參考。本報告內容並不構成任何證券的買賣要約,亦不構成投資建議。",
        "評級說明:買入:股價於未來12個月的潛在漲幅超過15%;持有:股價於未來12個月的潛在變幅在-10%至+15%之間;賣出:股價於未來12個月的潛在跌幅超過10%。",
        "【評測樣例:本文為 yanbao 留出評測集虛構,券商名與股票名為真實名稱,觀點、數據與分析師均為虛構】",
    ],
}

NOTES = [SOOCHOW_HUDIAN, ZHESHANG_WEEKLY, CSC_STRATEGY, CMBI_HANT]


def paragraphs(note: dict) -> list[str]:
    """The note's text units as a reader should see them: sidebar lines, headings, paragraphs,
    table rows (each with its caption and column names), disclaimer paragraphs."""
    units = [note["banner"], note["date_line"], note["title"], note["subtitle"], note["rating"]]
    units += [f"{label} {text}".strip() for label, text in note["sidebar"]]
    for kind, value in note["main"] + note["body"]:
        if kind == "table":
            head = " ".join(value["columns"])
            units += [f"{value['caption']} {head} {' '.join(row)}" for row in value["rows"]]
            units.append(value["source"])
        else:
            units.append(value)
    return units + list(note["disclaimer"])


def _build(note: dict, out: Path) -> None:
    # reportlab is imported here so check.py can import NOTES without it.
    from reportlab import rl_config
    from reportlab.graphics.shapes import Drawing, PolyLine, String
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import (
        BaseDocTemplate,
        Frame,
        FrameBreak,
        NextPageTemplate,
        PageBreak,
        PageTemplate,
        Paragraph,
        Spacer,
        Table,
        TableStyle,
    )

    rl_config.invariant = 1  # same bytes on every run: no timestamp or random document id
    font = note["font"]
    pdfmetrics.registerFont(UnicodeCIDFont(font))
    width, height = A4
    red = colors.HexColor("#9b1c1c")

    def style(name: str, size: float, leading: float, **extra) -> ParagraphStyle:
        return ParagraphStyle(name, fontName=font, fontSize=size, leading=leading, wordWrap="CJK", **extra)

    body = style("body", 9.5, 15, spaceAfter=6, firstLineIndent=19)
    heading = style("heading", 11.5, 17, spaceBefore=6, spaceAfter=4, textColor=red)
    side = style("side", 7.5, 11)
    side_label = style("side_label", 8, 12, textColor=red, spaceBefore=5)
    title = style("title", 17, 23, spaceAfter=4)
    subtitle = style("subtitle", 13, 19, spaceAfter=8, textColor=red)
    caption = style("caption", 9, 13, spaceBefore=6, spaceAfter=3)
    source = style("source", 7.5, 11, spaceAfter=8, textColor=colors.grey)
    cell = style("cell", 7.5, 10)

    def first_page(canvas, doc) -> None:
        canvas.saveState()
        canvas.setFont(font, 9)
        canvas.setFillColor(red)
        canvas.drawString(40, height - 40, note["banner"])
        canvas.drawRightString(width - 40, height - 40, note["date_line"])
        canvas.setStrokeColor(red)
        canvas.line(40, height - 46, width - 40, height - 46)
        canvas.setFillColor(colors.black)
        canvas.setFont(font, 7.5)
        canvas.drawCentredString(width / 2, 28, f"{note['footer']}    1")
        canvas.restoreState()

    def later_page(canvas, doc) -> None:
        canvas.saveState()
        canvas.setFont(font, 8)
        left, right = note["header"]
        canvas.drawString(40, height - 36, left)
        canvas.drawRightString(width - 40, height - 36, right)
        canvas.setStrokeColor(red)
        canvas.line(40, height - 42, width - 40, height - 42)
        canvas.setFont(font, 7.5)
        canvas.drawString(40, 28, note["footer"])
        canvas.drawRightString(width - 40, 28, str(doc.page))
        canvas.restoreState()

    sidebar_width = 140
    gap = 16
    top = height - 56
    frames_first = [
        Frame(40, 44, sidebar_width, top - 44, id="sidebar", leftPadding=0, rightPadding=6),
        Frame(40 + sidebar_width + gap, 44, width - 80 - sidebar_width - gap, top - 44, id="main"),
    ]
    frame_later = Frame(40, 44, width - 80, height - 100, id="body")
    doc = BaseDocTemplate(str(out), pagesize=A4, title=f"{note['title']} {note['subtitle']}", author="")
    doc.addPageTemplates(
        [
            PageTemplate(id="first", frames=frames_first, onPage=first_page),
            PageTemplate(id="later", frames=[frame_later], onPage=later_page),
        ]
    )

    def chart(label: str) -> Drawing:
        drawing = Drawing(sidebar_width - 8, 70)
        series = [20, 24, 22, 30, 34, 31, 40, 46, 43, 52, 58, 55]
        bench = [20, 21, 21, 23, 24, 23, 25, 26, 26, 27, 28, 28]
        step = (sidebar_width - 12) / (len(series) - 1)
        drawing.add(PolyLine([(i * step, v) for i, v in enumerate(series)], strokeColor=red, strokeWidth=1))
        drawing.add(PolyLine([(i * step, v) for i, v in enumerate(bench)], strokeColor=colors.grey))
        drawing.add(String(0, 62, label, fontName=font, fontSize=6.5))
        return drawing

    def table(spec: dict) -> list:
        data = [[Paragraph(c, cell) for c in spec["columns"]]] + [
            [Paragraph(c, cell) for c in row] for row in spec["rows"]
        ]
        grid = Table(data, repeatRows=1, hAlign="LEFT")
        grid.setStyle(
            TableStyle(
                [
                    ("LINEABOVE", (0, 0), (-1, 0), 0.8, red),
                    ("LINEBELOW", (0, 0), (-1, 0), 0.5, red),
                    ("LINEBELOW", (0, -1), (-1, -1), 0.8, red),
                    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#f3e6e6")),
                    ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ]
            )
        )
        return [Paragraph(spec["caption"], caption), grid, Paragraph(spec["source"], source)]

    def blocks(items: list) -> list:
        flow: list = []
        for kind, value in items:
            if kind == "h":
                flow.append(Paragraph(value, heading))
            elif kind == "p":
                flow.append(Paragraph(value, body))
            else:
                flow += table(value)
        return flow

    story: list = [NextPageTemplate("later"), Paragraph(note["rating"], side_label)]
    for label, text in note["sidebar"]:
        if label == "chart":
            story += [Spacer(1, 6), chart(text)]
        elif label and text:
            story.append(Paragraph(f"{label}:{text}", side_label))
        elif label:
            story.append(Paragraph(label, side_label))
        else:
            story.append(Paragraph(text, side))
    story.append(FrameBreak())
    story += [Paragraph(note["title"], title), Paragraph(note["subtitle"], subtitle)]
    story += blocks(note["main"])
    story.append(PageBreak())
    story += blocks(note["body"])
    story.append(PageBreak())
    story += [Paragraph(text, heading if len(text) <= 10 else body) for text in note["disclaimer"]]
    doc.build(story)


def main() -> None:
    NOTES_DIR.mkdir(parents=True, exist_ok=True)
    for note in NOTES:
        out = NOTES_DIR / note["file"]
        _build(note, out)
        print(f"wrote {out} ({out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
