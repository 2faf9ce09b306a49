"""Seeded generator of realistic sample AR periods, with the ground truth of every receipt.

Why: the matching, discrepancy and aging stages need data that looks like a real Chinese
trading company's close (Chinese bank exports, name variants, combined and partial
payments, keying errors, FX receipts...) *and* an answer key to score against. Real
ledgers cannot be shipped, so ``generate`` fabricates them, deterministically: the same
seed gives byte-identical files, so ``data/sample/`` is reproducible and testable.

Every noise type is a ``scenario``; ``truth.<fmt>`` lists, per receipt, what it really
clears (``kind`` ``cash``, ``bank_charge``, ``discount``, ``fx_difference``,
``credit_note``) and what is left ``unapplied``. Customers with ``policy ==
balance_forward`` never pay named invoices: their round or lump-sum receipts (scenario
``balance_forward``) are applied oldest-first across everything they owe. Money is handled
as integer minor units (cents) throughout and written as exact two-decimal text (CSV) or
``Decimal(38, 2)`` (Parquet). Generation is numpy-vectorised where row counts are large;
per-row Python is only used for string formatting and the rare scenarios.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import polars as pl

from arlib.money import fmt_cents_expr, fmt_money, from_cents, money_expr

__all__ = ["generate", "SCENARIOS", "REF_MEMO_FORMS"]

CURRENCIES = np.array(["CNY", "USD", "EUR"], dtype=object)
CNY, USD, EUR = 0, 1, 2
EPOCH = dt.date(1970, 1, 1)
MIN_COUNT = 6  # each scenario at least this often per period (when eligible rows exist)

SCENARIOS = (
    "exact_ref",
    "no_ref",
    "name_variant",
    "combined",
    "installment",
    "bank_charge",
    "discount",
    "fx",
    "overpayment",
    "duplicate",
    "decimal_shift",
    "transposition",
    "parent_payer",
    "unidentified",
    "partial",
    "memo_typo",
    "credit_note",
    "balance_forward",
)
# Share of a period's paid invoices per scenario; the rest is ``exact_ref``.
RATES = {
    "no_ref": 0.15,
    "name_variant": 0.06,
    "combined": 0.10,
    "installment": 0.025,
    "bank_charge": 0.04,
    "overpayment": 0.008,
    "duplicate": 0.005,
    "decimal_shift": 0.004,
    "transposition": 0.004,
    "partial": 0.02,
    "memo_typo": 0.008,
    "credit_note": 0.015,
}
# Restricted scenarios (only some invoices qualify):
# (share of eligible, cap as a share of all paid invoices)
RESTRICTED_RATES = {"fx": (0.5, 0.03), "discount": (0.6, 0.05), "parent_payer": (0.5, 0.03)}
UNIDENTIFIED_RATE = 0.004

# How a memo names invoice INV0012345 (``{id}``: full id, ``{digits}``: 7 digits,
# ``{n}``: the number without leading zeros).
REF_MEMO_FORMS = (
    "{id}",
    "INV-{digits}",
    "inv {n}",
    "发票号{digits}",
    "付{id}货款",
    "{n}",
    "Payment for {id}",
)
ZH_FORMS = (0, 1, 2, 3, 4, 5)
EN_FORMS = (0, 1, 2, 5, 6)
GENERIC_MEMOS_ZH = ("货款", "付货款", "支付货款", "")
GENERIC_MEMOS_EN = ("payment", "PAYMENT FOR GOODS", "")
# Balance-forward customers pay on account: memos never name an invoice (and hold no digits,
# which a reference search could read as an invoice number).
ON_ACCOUNT_MEMOS_ZH = ("货款", "付货款", "往来款", "结算货款", "")
ON_ACCOUNT_MEMOS_EN = ("payment on account", "ON ACCOUNT", "account payment", "payment", "")
INSTALLMENT_REF_RATE = 0.8  # share of installment receipts whose memo names the invoice

# --------------------------------------------------------------------------- vocabularies

CITIES = (  # (zh, en, area code, uses 市)
    ("上海", "Shanghai", "021", False),
    ("北京", "Beijing", "010", False),
    ("广州", "Guangzhou", "020", True),
    ("深圳", "Shenzhen", "0755", True),
    ("杭州", "Hangzhou", "0571", False),
    ("苏州", "Suzhou", "0512", False),
    ("南京", "Nanjing", "025", False),
    ("宁波", "Ningbo", "0574", True),
    ("无锡", "Wuxi", "0510", True),
    ("天津", "Tianjin", "022", False),
    ("青岛", "Qingdao", "0532", False),
    ("厦门", "Xiamen", "0592", True),
    ("成都", "Chengdu", "028", False),
    ("重庆", "Chongqing", "023", False),
    ("武汉", "Wuhan", "027", False),
    ("长沙", "Changsha", "0731", False),
    ("郑州", "Zhengzhou", "0371", False),
    ("济南", "Jinan", "0531", False),
    ("合肥", "Hefei", "0551", False),
    ("福州", "Fuzhou", "0591", False),
    ("东莞", "Dongguan", "0769", True),
    ("佛山", "Foshan", "0757", True),
    ("温州", "Wenzhou", "0577", False),
    ("常州", "Changzhou", "0519", False),
    ("嘉兴", "Jiaxing", "0573", False),
    ("绍兴", "Shaoxing", "0575", False),
    ("义乌", "Yiwu", "0579", True),
    ("大连", "Dalian", "0411", False),
    ("沈阳", "Shenyang", "024", False),
    ("西安", "Xi'an", "029", False),
)
# fmt: off
CORES = (  # trade names (字号) with pinyin
    ("华东", "Huadong"), ("华南", "Huanan"), ("恒通", "Hengtong"), ("永盛", "Yongsheng"),
    ("鑫达", "Xinda"), ("宏远", "Hongyuan"), ("金桥", "Jinqiao"), ("东方", "Dongfang"),
    ("瑞丰", "Ruifeng"), ("泰和", "Taihe"), ("安信", "Anxin"), ("博远", "Boyuan"),
    ("诚信", "Chengxin"), ("达丰", "Dafeng"), ("富源", "Fuyuan"), ("国泰", "Guotai"),
    ("海天", "Haitian"), ("和兴", "Hexing"), ("华美", "Huamei"), ("佳禾", "Jiahe"),
    ("嘉诚", "Jiacheng"), ("锦程", "Jincheng"), ("凯达", "Kaida"), ("力拓", "Lituo"),
    ("隆基", "Longji"), ("美达", "Meida"), ("明辉", "Minghui"), ("南洋", "Nanyang"),
    ("鹏程", "Pengcheng"), ("启航", "Qihang"), ("千禧", "Qianxi"), ("荣华", "Ronghua"),
    ("瑞祥", "Ruixiang"), ("三和", "Sanhe"), ("盛世", "Shengshi"), ("天成", "Tiancheng"),
    ("通达", "Tongda"), ("万隆", "Wanlong"), ("伟业", "Weiye"), ("协力", "Xieli"),
    ("新亚", "Xinya"), ("兴业", "Xingye"), ("亚太", "Yatai"), ("远航", "Yuanhang"),
    ("悦达", "Yueda"), ("长城", "Changcheng"), ("正泰", "Zhengtai"), ("志远", "Zhiyuan"),
    ("中联", "Zhonglian"), ("众鑫", "Zhongxin"), ("卓越", "Zhuoyue"), ("百川", "Baichuan"),
    ("宝丰", "Baofeng"), ("德胜", "Desheng"), ("福瑞", "Furui"), ("光明", "Guangming"),
    ("汇通", "Huitong"), ("金源", "Jinyuan"), ("聚力", "Juli"), ("康泰", "Kangtai"),
    ("利达", "Lida"), ("绿源", "Lvyuan"), ("茂源", "Maoyuan"), ("润发", "Runfa"),
    ("顺达", "Shunda"), ("腾飞", "Tengfei"), ("天宇", "Tianyu"), ("祥和", "Xianghe"),
    ("旭日", "Xuri"), ("耀华", "Yaohua"), ("益民", "Yimin"), ("永泰", "Yongtai"),
    ("裕隆", "Yulong"), ("振华", "Zhenhua"), ("中天", "Zhongtian"), ("大成", "Dacheng"),
    ("恒信", "Hengxin"), ("广源", "Guangyuan"), ("新华", "Xinhua"), ("金鼎", "Jinding"),
)
INDUSTRIES = (
    ("五金", "Hardware"), ("电子", "Electronics"), ("化工", "Chemical"), ("纺织", "Textile"),
    ("机械", "Machinery"), ("塑料", "Plastics"), ("建材", "Building Materials"),
    ("服饰", "Apparel"), ("食品", "Foods"), ("医疗器械", "Medical Devices"),
    ("包装", "Packaging"), ("照明", "Lighting"), ("家居", "Home Furnishing"),
    ("汽配", "Auto Parts"), ("钢材", "Steel"), ("电气", "Electric"), ("光电", "Optoelectronics"),
    ("印刷", "Printing"), ("农产品", "Agricultural Products"), ("文具", "Stationery"),
    ("玩具", "Toys"), ("卫浴", "Sanitary Ware"), ("陶瓷", "Ceramics"), ("橡胶", "Rubber"),
    ("仪器", "Instruments"), ("环保", "Environmental"), ("新材料", "New Materials"),
    ("通信", "Communication"), ("家电", "Appliances"), ("轴承", "Bearings"),
)
# fmt: on
SUFFIXES = (
    ("贸易有限公司", "Trading Co., Ltd."),
    ("有限公司", "Co., Ltd."),
    ("科技有限公司", "Technology Co., Ltd."),
    ("实业有限公司", "Industrial Co., Ltd."),
    ("制造有限公司", "Manufacturing Co., Ltd."),
    ("进出口有限公司", "Import & Export Co., Ltd."),
    ("股份有限公司", "Corporation"),
    ("商贸有限公司", "Commerce Co., Ltd."),
)
SIMILAR_CHARS = dict(
    zip(
        "鑫达华恒盛源丰泰信兴隆宏瑞祥远通成程明辉金海天美",
        "金大化衡胜原峰太心星龙洪锐翔源同诚成铭晖今海添镁",
        strict=True,
    )
)
# fmt: off
EN_A = (
    "Pacific", "Bright", "Golden", "Atlantic", "Silver", "Blue", "Summit", "Prime", "Global",
    "Northern", "Coastal", "Eagle", "Evergreen", "Liberty", "Pioneer", "Royal", "Sun", "Star",
    "Ocean", "Harbor", "Crescent", "Maple", "Oak", "Red", "Green", "United", "Allied", "Apex",
    "Delta", "Falcon",
)
EN_B = (
    "Rim", "Star", "Gate", "Bridge", "Point", "Ridge", "Wave", "Line", "Stone", "Field", "Way",
    "Port", "Crest", "Valley", "River", "Peak", "Path", "Light", "Rock", "Bay",
)
# fmt: on
EN_MID = ("", "International ", "Group ", "Worldwide ", "Industries ")
# fmt: off
EN_FORMS_USD = (
    "Trading Co., Ltd.", "LLC", "Inc.", "Import & Export Corp.", "Supply Pte. Ltd.",
    "Holdings Ltd.", "Distribution Inc.", "Sourcing LLC",
)
EU_SURNAMES = (
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz",
    "Hoffmann", "Koch", "Richter", "Klein", "Wolf", "Schröder", "Neumann", "Schwarz",
    "Zimmermann", "Braun", "Krüger", "Hartmann", "Lange", "Werner", "Krause", "Dubois", "Martin",
    "Bernard", "Moreau", "Laurent", "Lefèvre", "Rossi", "Russo", "Ferrari", "Esposito", "Bianchi",
    "Romano", "Jansen", "de Vries", "Van Dijk", "Bakker", "Visser", "Smit", "Novák", "García",
    "Fernández", "López", "Martínez", "Şahin",
)
EU_WORDS = (
    "Handels", "Technik", "Import", "Export", "Industrie", "Maschinen", "Elektro", "Metall",
    "Textil", "Logistik", "Trading", "Commerce", "Distribution", "Supply",
)
# fmt: on
EU_FORMS = ("GmbH", "AG", "KG", "SARL", "S.r.l.", "B.V.", "S.L.")
TRANSLIT = str.maketrans(
    {"ü": "ue", "ö": "oe", "ä": "ae", "è": "e", "é": "e", "á": "a", "í": "i", "ó": "o", "Ş": "S"}
)
PERSON_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
PERSON_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰涛明超秀霞平刚桂英华"
PLATFORM_PAYERS = ("财付通支付科技有限公司", "支付宝（中国）网络技术有限公司", "个人汇款")
GOODS = (  # (zh, en, zh unit, en unit)
    ("不锈钢螺栓 M8×30", "Stainless steel bolts M8x30", "件", "pcs"),
    ("铜芯电缆 YJV 3×4", "Copper cable YJV 3x4", "米", "m"),
    ("聚丙烯颗粒 PP-H", "Polypropylene pellets PP-H", "吨", "t"),
    ("LED 面板灯 600×600", "LED panel light 600x600", "套", "sets"),
    ("纯棉坯布 40S", "Cotton grey fabric 40S", "米", "m"),
    ("深沟球轴承 6204", "Deep groove ball bearing 6204", "个", "pcs"),
    ("瓦楞纸箱 五层", "Corrugated cartons, 5-ply", "个", "pcs"),
    ("冷轧钢板 1.0mm", "Cold-rolled steel sheet 1.0mm", "吨", "t"),
    ("液压油缸", "Hydraulic cylinder", "台", "units"),
    ("陶瓷洗手盆", "Ceramic wash basin", "件", "pcs"),
    ("锂电池组 48V", "Lithium battery pack 48V", "组", "packs"),
    ("工业胶带", "Industrial adhesive tape", "卷", "rolls"),
    ("塑料收纳箱", "Plastic storage boxes", "个", "pcs"),
    ("办公文具套装", "Office stationery sets", "套", "sets"),
    ("电动工具配件", "Power tool accessories", "批", "lots"),
    ("医用防护口罩", "Medical face masks", "盒", "boxes"),
    ("汽车刹车片", "Brake pads", "套", "sets"),
    ("光纤跳线", "Fibre optic patch cords", "条", "pcs"),
)
CN_REASONS = ("退货", "价格折让", "质量问题扣款", "数量短缺")
EN_REASONS = ("goods returned", "price adjustment", "quality claim", "short shipment")


# --------------------------------------------------------------------------- helpers


def _days(d: dt.date) -> int:
    return (d - EPOCH).days


def _date(n: int) -> dt.date:
    return EPOCH + dt.timedelta(days=int(n))


def _period_bounds(period: str) -> tuple[int, int]:
    """First and last day (days since epoch) of ``YYYY-MM``."""
    year, month = (int(x) for x in period.split("-"))
    last = calendar.monthrange(year, month)[1]
    return _days(dt.date(year, month, 1)), _days(dt.date(year, month, last))


def _round_div(num: np.ndarray, den: int | np.ndarray) -> np.ndarray:
    """Integer division rounded half up (non-negative numerators)."""
    return (2 * num + den) // (2 * den)


def _inv_id(n: int) -> str:
    return f"INV{n:07d}"


def _rate_text(rate: pl.Expr) -> pl.Expr:
    """A rate held as an integer of 1/10,000 (non-negative) as text with four decimals."""
    return pl.format("{}.{}", rate // 10_000, (rate % 10_000).cast(pl.String).str.zfill(4))


def _write(
    df: pl.DataFrame,
    path: Path,
    fmt: str,
    *,
    money: Sequence[str] = (),
    dates: Sequence[str] = (),
    date_format: str = "%Y-%m-%d",
    thousands: Sequence[str] = (),
    rates: Sequence[str] = (),
) -> None:
    """Write ``df`` (money as integer cents, dates as ``pl.Date``) as CSV text or typed Parquet."""
    exprs = []
    for c in money:
        exprs.append(fmt_cents_expr(c) if fmt == "csv" else money_expr(c))
    for c in rates:
        text = _rate_text(pl.col(c))
        exprs.append(text if fmt == "csv" else text.str.to_decimal(scale=4))
    if fmt == "csv":
        exprs += [pl.col(c).dt.strftime(date_format) for c in dates]
    df = df.with_columns(exprs) if exprs else df
    for c in thousands:
        if fmt == "csv":
            texts = [fmt_money(from_cents(v)) for v in df[c].to_list()]
            df = df.with_columns(pl.Series(c, texts, pl.String))
        else:
            df = df.with_columns(money_expr(c))
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        df.write_csv(path, line_terminator="\n")
    else:
        df.write_parquet(path, compression="zstd", statistics=False)


def _pick(rng: np.random.Generator, options: Sequence, n: int) -> np.ndarray:
    arr = np.empty(len(options), dtype=object)
    arr[:] = list(options)
    return arr[rng.integers(0, len(options), n)]


# --------------------------------------------------------------------------- customers


class _Customers:
    """Customer master: the public frame plus numpy columns the generator indexes into."""

    def __init__(self, rng: np.random.Generator, n: int) -> None:
        if n < 10:
            raise ValueError("n_customers must be at least 10")
        self.n = n
        width = max(6, len(str(n)))
        self.ids = np.array([f"C{i + 1:0{width}d}" for i in range(n)], dtype=object)
        foreign = rng.random(n) < 0.15
        self.cur = np.where(foreign, np.where(rng.random(n) < 0.65, USD, EUR), CNY).astype(np.int8)
        self.zh = self.cur == CNY
        self.names = np.empty(n, dtype=object)
        self.aliases = np.empty(n, dtype=object)
        self.variants: list[list[str]] = [[] for _ in range(n)]
        self.emails = np.empty(n, dtype=object)
        self.phones = np.empty(n, dtype=object)
        self._names(rng)
        # payment terms, discount terms, policy
        terms = _pick(rng, (30, 45, 60, 90), n).astype(np.int64)
        terms = np.where(rng.random(n) < 0.4, 30, terms)
        disc = rng.random(n) < 0.10
        two = rng.random(n) < 0.6
        self.disc_pct = np.where(disc, np.where(two, 2, 1), 0)
        self.disc_days = np.where(disc, np.where(two, 10, 15), 0)
        self.terms = np.where(disc, np.where(two, 30, 45), terms)
        self.disc_text = np.where(disc, np.where(two, "2/10 net 30", "1/15 net 45"), None).astype(
            object
        )
        self.policy = np.where(rng.random(n) < 0.05, "balance_forward", "open_item").astype(object)
        limit_units = np.round(np.exp(rng.normal(np.log(500_000), 0.9, n)), -4).clip(50_000)
        limit_units = np.where(self.zh, limit_units, np.round(limit_units / 7, -3))
        self.credit_limit = limit_units.astype(np.int64) * 100
        # payer bank accounts (1 or 2)
        self.acct1 = np.empty(n, dtype=object)
        self.acct2 = np.empty(n, dtype=object)
        two_accts = rng.random(n) < 0.2
        for i in range(n):
            self.acct1[i] = self._account(rng, int(self.cur[i]))
            self.acct2[i] = self._account(rng, int(self.cur[i])) if two_accts[i] else None
        # parents: ~5% are subsidiaries of another customer with the same currency
        self.parent = np.full(n, -1, dtype=np.int64)
        subs = np.flatnonzero(rng.random(n) < 0.05)
        roots = np.setdiff1d(np.arange(n), subs)
        for i in subs:
            pool = roots[self.cur[roots] == self.cur[i]]
            if len(pool):
                self.parent[i] = pool[rng.integers(0, len(pool))]
        self.chronic = rng.random(n) < 0.03
        weights = 1.0 / np.arange(1, n + 1) ** 0.8
        self.weight = rng.permutation(weights) / weights.sum()

    def _names(self, rng: np.random.Generator) -> None:
        zh_idx = np.flatnonzero(self.zh)
        usd_idx = np.flatnonzero(self.cur == USD)
        eur_idx = np.flatnonzero(self.cur == EUR)
        shape = (len(CITIES), len(CORES), len(INDUSTRIES), len(SUFFIXES))
        combos = _sample_combos(rng, shape, len(zh_idx))
        for i, (ci, co, ind, su) in zip(zh_idx, combos, strict=True):
            self._zh_customer(rng, int(i), ci, co, ind, su)
        shape = (len(EN_A), len(EN_B), len(EN_MID), len(EN_FORMS_USD))
        for i, (a, b, m, f) in zip(usd_idx, _sample_combos(rng, shape, len(usd_idx)), strict=True):
            core = f"{EN_A[a]} {EN_B[b]}"
            name = f"{core} {EN_MID[m]}{EN_FORMS_USD[f]}"
            self._en_customer(rng, int(i), name, f"{core} {EN_MID[m]}".strip(), core, "+1")
        shape = (len(EU_SURNAMES), len(EU_WORDS), len(EU_FORMS))
        for i, (s, w, f) in zip(eur_idx, _sample_combos(rng, shape, len(eur_idx)), strict=True):
            core = f"{EU_SURNAMES[s]} {EU_WORDS[w]}"
            name = f"{core} {EU_FORMS[f]}"
            self._en_customer(rng, int(i), name, core, EU_SURNAMES[s], "+49")

    def _zh_customer(self, rng, i: int, ci: int, co: int, ind: int, su: int) -> None:
        city, city_en, area, shi = CITIES[ci]
        core, core_py = CORES[co]
        industry, industry_en = INDUSTRIES[ind]
        suffix, suffix_en = SUFFIXES[su]
        name = f"{city}{'市' if shi else ''}{core}{industry}{suffix}"
        short = f"{core}{industry}"
        english = f"{city_en} {core_py} {industry_en} {suffix_en}"
        aliases = [short, english]
        if rng.random() < 0.25:
            other = SUFFIXES[(su + 1 + int(rng.integers(0, len(SUFFIXES) - 1))) % len(SUFFIXES)]
            aliases.append(f"{city}{core}{industry}{other[0]}")
        self.names[i] = name
        self.aliases[i] = "|".join(aliases)
        # bank-side variants of the payer name (for the name_variant scenario)
        head = suffix.removesuffix("有限公司").removesuffix("股份")
        tail = suffix[len(head) :]
        typo = "".join(SIMILAR_CHARS.get(c, c) for c in core)
        if typo == core:
            typo = core[0]
        variants = [
            short,
            english.upper(),
            f"{core}{industry}{head}（{city}）{tail}",
            f"{core}{industry}{head}({city}){tail}",
            name.replace(core, typo, 1),
            name[:10],
            *aliases[2:],
        ]
        self.variants[i] = [v for v in dict.fromkeys(variants) if v != name]
        dom = f"{core_py.lower()}{industry_en.split()[0].lower()}"
        if rng.random() < 0.7:
            box = ("finance", "caiwu", "ar", "accounting")[int(rng.integers(0, 4))]
            self.emails[i] = f"{box}@{dom}.com.cn"
        else:
            host = ("qq.com", "163.com", "126.com")[int(rng.integers(0, 3))]
            self.emails[i] = f"{int(rng.integers(10_000_000, 999_999_999))}@{host}"
        if rng.random() < 0.5:
            self.phones[i] = f"{area}-{int(rng.integers(20_000_000, 89_999_999))}"
        else:
            self.phones[i] = f"1{'3589'[int(rng.integers(0, 4))]}{int(rng.integers(0, 10**9)):09d}"

    def _en_customer(self, rng, i: int, name: str, short: str, key: str, cc: str) -> None:
        self.names[i] = name
        aliases = [short]
        if rng.random() < 0.2:
            aliases.append(f"{short} Co.")
        self.aliases[i] = "|".join(aliases)
        plain = name.translate(TRANSLIT)
        bare = plain.replace(",", "").replace(".", "").replace("&", "AND")
        j = int(rng.integers(1, max(2, len(name) - 2)))
        swapped = name[:j] + name[j + 1] + name[j] + name[j + 2 :] if name[j] != name[j + 1] else ""
        variants = [
            bare.upper(),
            short,
            name.upper(),
            "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in name.upper()),
            name[:-1] + name[-1].swapcase() if name[-1].isalpha() else name.lower(),
            plain,
            swapped,
            plain.upper()[:24],
        ]
        self.variants[i] = [v for v in dict.fromkeys(variants) if v and v != name]
        dom = "".join(ch for ch in key.translate(TRANSLIT).lower() if ch.isalnum())
        tld = ".com" if cc == "+1" else (".de", ".fr", ".it", ".nl", ".eu")[int(rng.integers(0, 5))]
        box = ("accounts", "ap", "finance", "payables")[int(rng.integers(0, 4))]
        self.emails[i] = f"{box}@{dom}{int(rng.integers(1, 100))}{tld}"
        if cc == "+1":
            self.phones[i] = (
                f"+1 {int(rng.integers(201, 990))} 555 {int(rng.integers(0, 10**4)):04d}"
            )
        else:
            self.phones[i] = f"+49 {int(rng.integers(30, 99))} {int(rng.integers(0, 10**7)):07d}"

    @staticmethod
    def _account(rng: np.random.Generator, cur: int) -> str:
        if cur == CNY:
            length = int(rng.integers(16, 20))
            return str(int(rng.integers(1, 10))) + "".join(
                str(d) for d in rng.integers(0, 10, length - 1)
            )
        if cur == EUR:
            bban = "".join(str(d) for d in rng.integers(0, 10, 18))
            check = 98 - int(bban + "131400") % 97  # DE = 13 14, IBAN mod-97 check digits
            return f"DE{check:02d}{bban}"
        return "".join(str(d) for d in rng.integers(0, 10, int(rng.integers(9, 13))))

    def frame(self) -> pl.DataFrame:
        """The public customers frame (money in cents)."""
        accts = [
            a if b is None else f"{a}|{b}" for a, b in zip(self.acct1, self.acct2, strict=True)
        ]
        return pl.DataFrame(
            {
                "customer_id": self.ids.tolist(),
                "name": self.names.tolist(),
                "aliases": self.aliases.tolist(),
                "payer_accounts": accts,
                "payment_terms_days": self.terms.tolist(),
                "credit_limit": self.credit_limit.tolist(),
                "email": self.emails.tolist(),
                "phone": self.phones.tolist(),
                "language": np.where(self.zh, "zh", "en").tolist(),
                "parent_id": [self.ids[p] if p >= 0 else None for p in self.parent],
                "discount_terms": self.disc_text.tolist(),
                "policy": self.policy.tolist(),
                "currency": CURRENCIES[self.cur].tolist(),
            },
            schema_overrides={"payment_terms_days": pl.Int64, "credit_limit": pl.Int64},
        )

    def payer(self, rng: np.random.Generator, cust: np.ndarray, p_no_account: float = 0.1):
        """Payer name and account as the bank shows them for a normal payment."""
        names = self.names[cust]
        second = (rng.random(len(cust)) < 0.5) & (self.acct2[cust] != None)  # noqa: E711
        accts = np.where(second, self.acct2[cust], self.acct1[cust])
        accts = np.where(rng.random(len(cust)) < p_no_account, None, accts)
        return names, accts


def _sample_combos(rng: np.random.Generator, shape: tuple[int, ...], k: int) -> list[tuple]:
    """``k`` distinct index tuples from a grid of ``shape`` (names must be unique)."""
    total = int(np.prod(shape))
    if k > total:
        raise ValueError(f"cannot make {k} distinct names from {total} combinations")
    flat = rng.permutation(total)[:k]
    return list(zip(*(a.tolist() for a in np.unravel_index(flat, shape)), strict=True))


# --------------------------------------------------------------------------- FX


def _fx_series(rng: np.random.Generator, start: int, end: int) -> dict[int, np.ndarray]:
    """Daily CNY-per-unit rates in 1/10000 for USD and EUR (mean-reverting random walk)."""
    n = end - start + 1
    out = {}
    for cur, mu, sd in ((USD, 7.10, 0.012), (EUR, 7.75, 0.018)):
        x = np.empty(n)
        level = mu + rng.normal(0, 0.03)
        for t, step in enumerate(rng.normal(0, sd, n)):
            level += 0.1 * (mu - level) + step
            x[t] = level
        out[cur] = np.round(x * 10_000).astype(np.int64)
    return out


# --------------------------------------------------------------------------- a period


class _Book:
    """Accumulates receipts and truth rows (provisional receipt keys until ids are set)."""

    def __init__(self) -> None:
        self.receipts: list[dict[str, np.ndarray]] = []
        self.truth: list[dict[str, np.ndarray]] = []
        self.n = 0

    def receipt(self, date, amount, cur, payer, account, memo) -> np.ndarray:
        """Add bank lines (one per element); return their provisional keys."""
        k = len(amount)
        keys = np.arange(self.n, self.n + k)
        self.n += k
        self.receipts.append(
            {
                "rkey": keys,
                "value_date": np.asarray(date, dtype=np.int64),
                "amount": np.asarray(amount, dtype=np.int64),
                "cur": np.asarray(cur, dtype=np.int64),
                "payer": np.asarray(payer, dtype=object),
                "account": np.asarray(account, dtype=object),
                "memo": np.asarray(memo, dtype=object),
            }
        )
        return keys

    def row(self, rkey, inv, cust, applied, cur, received, rcur, kind, scenario, related=None):
        """Add truth rows; scalars broadcast, -1 means "none" for invoice/customer ids."""
        k = len(rkey)
        self.truth.append(
            {
                "rkey": np.asarray(rkey, dtype=np.int64),
                "inv": np.broadcast_to(np.asarray(inv, dtype=np.int64), k),
                "cust": np.broadcast_to(np.asarray(cust, dtype=np.int64), k),
                "applied": np.broadcast_to(np.asarray(applied, dtype=np.int64), k),
                "cur": np.broadcast_to(np.asarray(cur, dtype=np.int64), k),
                "received": np.broadcast_to(np.asarray(received, dtype=np.int64), k),
                "rcur": np.broadcast_to(np.asarray(rcur, dtype=np.int64), k),
                "kind": np.full(k, kind, dtype=object),
                "scenario": np.full(k, scenario, dtype=object),
                "related": np.broadcast_to(
                    np.asarray(-1 if related is None else related, dtype=np.int64), k
                ),
            }
        )


def _ref_memos(rng: np.random.Generator, inv: np.ndarray, zh: np.ndarray) -> np.ndarray:
    """Memos naming invoice numbers ``inv`` in one of ``REF_MEMO_FORMS``."""
    zh_f = np.array(ZH_FORMS)[rng.integers(0, len(ZH_FORMS), len(inv))]
    en_f = np.array(EN_FORMS)[rng.integers(0, len(EN_FORMS), len(inv))]
    forms = np.where(zh, zh_f, en_f)
    out = np.empty(len(inv), dtype=object)
    out[:] = [
        REF_MEMO_FORMS[f].format(id=f"INV{n:07d}", digits=f"{n:07d}", n=n)
        for f, n in zip(forms.tolist(), inv.tolist(), strict=True)
    ]
    return out


def _generic_memos(rng: np.random.Generator, zh: np.ndarray) -> np.ndarray:
    """Memos that name no invoice (``货款``, ``payment``, empty)."""
    return np.where(
        zh, _pick(rng, GENERIC_MEMOS_ZH, len(zh)), _pick(rng, GENERIC_MEMOS_EN, len(zh))
    )


def _mixed_memos(rng, inv, zh, p_ref: float) -> np.ndarray:
    """A reference memo with probability ``p_ref``, else a generic one."""
    return np.where(rng.random(len(inv)) < p_ref, _ref_memos(rng, inv, zh), _generic_memos(rng, zh))


def _transpose(cents: int, rng: np.random.Generator) -> int:
    """Swap two adjacent differing digits of an amount (a keying error)."""
    s = str(cents)
    spots = [i for i in range(len(s) - 1) if s[i] != s[i + 1] and not (i == 0 and s[1] == "0")]
    if not spots:
        return cents + 9
    i = spots[int(rng.integers(0, len(spots)))]
    return int(s[:i] + s[i + 1] + s[i] + s[i + 2 :])


class _Period:
    """Generates one period's invoices, payments, credit notes and truth."""

    def __init__(
        self,
        rng,
        cust: _Customers,
        fx,
        fx_start: int,
        period: str,
        k: int,
        paid_share: float | None = None,
    ) -> None:
        self.rng, self.c, self.fx, self.fx_start = rng, cust, fx, fx_start
        self.period, self.k, self.paid_share = period, k, paid_share
        self.start, self.end = _period_bounds(period)
        self.book = _Book()
        self.credits: list[dict] = []

    # ---- invoices
    def invoices(self, n: int, first_no: int) -> dict[str, np.ndarray]:
        """Invoice columns plus a payment plan: ``pay_k`` (period index, -1 never), ``pay_date``."""
        rng, c = self.rng, self.c
        cust = rng.choice(c.n, size=n, p=c.weight)
        date = rng.integers(self.start, self.end + 1, n)
        order = np.lexsort((rng.random(n), date))
        cust, date = cust[order], date[order]
        cur = c.cur[cust].astype(np.int64)
        cur = np.where((cur != CNY) & (rng.random(n) < 0.12), CNY, cur)
        band = rng.random(n)
        yuan = np.where(
            band < 0.80,
            np.exp(rng.normal(np.log(9_000), 0.8, n)).clip(1_000, 50_000),
            np.where(
                band < 0.86,
                rng.uniform(50_000, 100_000, n),
                np.exp(rng.uniform(np.log(100_000), np.log(2_000_000), n)),
            ),
        )
        divisor = np.select([cur == USD, cur == EUR], [7.1, 7.75], 1.0)
        amount = np.round(yuan / divisor * 100).astype(np.int64)
        # ~30% of amounts are round (whole units), as many real invoices are
        amount = np.where(rng.random(n) < 0.3, amount // 100 * 100, amount)
        amount = np.maximum(amount, 10_000)
        inv = {
            "no": np.arange(first_no, first_no + n, dtype=np.int64),
            "cust": cust.astype(np.int64),
            "date": date.astype(np.int64),
            "due": date + c.terms[cust],
            "amount": amount,
            "cur": cur,
        }
        # payment plan: offset 0 = paid this period, 1..3 later periods, -1 never
        frac = (date - self.start) / (self.end - self.start + 1)
        u = rng.random(n)
        p0 = 0.90 - 0.45 * frac if self.paid_share is None else np.full(n, self.paid_share)
        rest = (u - p0) / np.maximum(1 - p0, 1e-9)  # where later periods share the rest
        offset = np.select(
            [u < p0, rest < 0.75, rest < 0.83, rest < 0.88], [0, 1, 2, 3], -1
        ).astype(np.int64)
        offset = np.where(c.chronic[cust], -1, offset)
        inv["pay_k"] = np.where(offset >= 0, self.k + offset, -1)
        span = self.end - date + 1
        inv["pay_date"] = date + np.floor(rng.random(n) ** 1.5 * span).astype(np.int64)
        return inv

    def invoice_frame(self, inv: dict[str, np.ndarray]) -> pl.DataFrame:
        """The public invoices frame (money in cents) with PO numbers and goods text."""
        rng, c = self.rng, self.c
        n = len(inv["no"])
        zh = c.zh[inv["cust"]]
        g = rng.integers(0, len(GOODS), n)
        qty = rng.integers(1, 500, n) * np.where(rng.random(n) < 0.5, 10, 1)
        goods = GOODS
        desc = [
            f"{goods[j][0]} {q}{goods[j][2]}" if z else f"{goods[j][1]}, {q} {goods[j][3]}"
            for j, q, z in zip(g.tolist(), qty.tolist(), zh.tolist(), strict=True)
        ]
        yyyymm = self.period.replace("-", "")
        po_no = rng.integers(0, 100_000, n)
        has_po = rng.random(n) < 0.6
        po = [f"PO-{yyyymm}-{p:05d}" if h else None for p, h in zip(po_no, has_po, strict=True)]
        return pl.DataFrame(
            {
                "invoice_id": [_inv_id(x) for x in inv["no"].tolist()],
                "customer_id": c.ids[inv["cust"]].tolist(),
                "invoice_date": inv["date"].astype(np.int32),
                "due_date": inv["due"].astype(np.int32),
                "amount": inv["amount"],
                "currency": CURRENCIES[inv["cur"]].tolist(),
                "tax_amount": _round_div(inv["amount"] * 13, 113),
                "po_number": po,
                "description": desc,
            },
            schema_overrides={"invoice_date": pl.Date, "due_date": pl.Date},
        )

    # ---- scenario assignment
    def assign(self, ev: dict[str, np.ndarray]) -> np.ndarray:
        """A scenario name per paid invoice (event)."""
        rng, c = self.rng, self.c
        n = len(ev["no"])
        scen = np.full(n, "", dtype=object)

        def take(name: str, eligible: np.ndarray, count: int) -> None:
            pool = np.flatnonzero(eligible & (scen == ""))
            count = min(len(pool), max(MIN_COUNT, count))
            scen[rng.permutation(pool)[:count]] = name

        cust = ev["cust"]
        elig = {
            "fx": (ev["cur"] == CNY) & (c.cur[cust] != CNY),
            "discount": ev["fresh"] & (c.disc_pct[cust] > 0),
            "parent_payer": c.parent[cust] >= 0,
        }
        for name, (rate, cap) in RESTRICTED_RATES.items():
            take(name, elig[name], min(round(rate * elig[name].sum()), round(cap * n)))
        self._choose_combined(ev, scen, max(2 * MIN_COUNT, round(RATES["combined"] * n)))
        for name, rate in RATES.items():
            if name != "combined":
                take(name, np.ones(n, dtype=bool), round(rate * n))
        scen[scen == ""] = "exact_ref"
        return scen

    def _choose_combined(self, ev, scen: np.ndarray, target: int) -> None:
        """Tag groups of 2-6 unassigned invoices of one customer and currency as ``combined``."""
        rng = self.rng
        free = np.flatnonzero(scen == "")
        key = ev["cust"][free] * 4 + ev["cur"][free]
        groups, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
        ok = np.flatnonzero(counts >= 2)
        if not len(ok):
            return
        size = np.minimum(counts[ok], rng.integers(2, 7, len(ok)))
        order = rng.permutation(len(ok))
        cum = np.cumsum(size[order])
        chosen = order[: max(1, int(np.searchsorted(cum, target, side="right")))]
        want = np.zeros(len(groups), dtype=np.int64)
        want[ok[chosen]] = size[chosen]
        # rank events inside their group in random order, keep the first ``want``
        r = np.lexsort((rng.random(len(free)), inverse))
        rank = np.empty(len(free), dtype=np.int64)
        starts = np.r_[0, np.cumsum(counts)[:-1]]
        rank[r] = np.arange(len(free)) - starts[inverse[r]]
        scen[free[rank < want[inverse]]] = "combined"

    # ---- payments
    def pay(self, ev: dict[str, np.ndarray], scen: np.ndarray, period_invoices) -> None:
        """Turn scenario-tagged events into bank receipts, truth rows and credit notes."""
        rng, c, b = self.rng, self.c, self.book
        for name in SCENARIOS:
            idx = np.flatnonzero(scen == name)
            if name == "unidentified":
                self._unidentified(max(MIN_COUNT, round(UNIDENTIFIED_RATE * len(scen))))
                continue
            if not len(idx):
                continue
            e = {k: v[idx] for k, v in ev.items()}
            cust, amt, cur, inv = e["cust"], e["amount"], e["cur"], e["no"]
            zh = c.zh[cust]
            date = e["pay_date"]
            k = len(idx)
            if name in ("exact_ref", "no_ref", "memo_typo", "parent_payer", "name_variant"):
                payer, acct = c.payer(rng, cust)
                if name == "exact_ref":
                    memo = _ref_memos(rng, inv, zh)
                elif name == "no_ref":
                    memo = _generic_memos(rng, zh)
                elif name == "memo_typo":
                    memo, wrong = self._wrong_refs(rng, e, period_invoices)
                elif name == "parent_payer":
                    payer, acct = c.payer(rng, c.parent[cust])
                    memo = _ref_memos(rng, inv, zh)
                else:
                    payer = np.array(
                        [c.variants[j][int(rng.integers(0, len(c.variants[j])))] for j in cust],
                        dtype=object,
                    )
                    acct = np.where(rng.random(k) < 0.6, None, acct)
                    memo = _mixed_memos(rng, inv, zh, 0.5)
                keys = b.receipt(date, amt, cur, payer, acct, memo)
                related = wrong if name == "memo_typo" else None
                b.row(keys, inv, cust, amt, cur, amt, cur, "cash", name, related)
            elif name == "combined":
                self._combined(e)
            elif name == "installment":
                self._installments(e)
            elif name in ("bank_charge", "discount", "credit_note"):
                if name == "bank_charge":
                    off = (
                        np.where(cur == CNY, rng.integers(5, 51, k), rng.integers(10, 41, k)) * 100
                    )
                    memo = _mixed_memos(rng, inv, zh, 0.6)
                elif name == "discount":
                    date = np.minimum(e["date"] + rng.integers(1, c.disc_days[cust] + 1), self.end)
                    off = _round_div(amt * c.disc_pct[cust], 100)
                    memo = _mixed_memos(rng, inv, zh, 0.6)
                else:
                    off = _round_div(amt * rng.integers(2, 26, k), 100)
                    memo = _mixed_memos(rng, inv, zh, 0.7)
                    self._credit_notes(e, off, date)
                payer, acct = c.payer(rng, cust)
                keys = b.receipt(date, amt - off, cur, payer, acct, memo)
                b.row(keys, inv, cust, amt - off, cur, amt - off, cur, "cash", name)
                b.row(keys, inv, cust, off, cur, 0, cur, name, name)
            elif name == "fx":
                rcur = c.cur[cust].astype(np.int64)
                rate = np.where(rcur == USD, self.fx[USD][date - self.fx_start], 0)
                rate = np.where(rcur == EUR, self.fx[EUR][date - self.fx_start], rate)
                short_ppm = rng.integers(500, 4_000, k)  # customer's bank rate is a bit worse
                foreign = amt * 10_000 * (1_000_000 - short_ppm) // (rate * 1_000_000)
                cny = _round_div(foreign * rate, 10_000)
                payer, acct = c.payer(rng, cust)
                keys = b.receipt(date, foreign, rcur, payer, acct, _mixed_memos(rng, inv, zh, 0.7))
                b.row(keys, inv, cust, cny, cur, foreign, rcur, "cash", name)
                b.row(keys, inv, cust, amt - cny, cur, 0, rcur, "fx_difference", name)
            elif name == "overpayment":
                up = (amt // 100_000 + 1) * 100_000
                excess = np.where(
                    rng.random(k) < 0.5, up - amt, _round_div(amt * rng.integers(5, 51, k), 1000)
                )
                payer, acct = c.payer(rng, cust)
                keys = b.receipt(date, amt + excess, cur, payer, acct, _ref_memos(rng, inv, zh))
                b.row(keys, inv, cust, amt, cur, amt, cur, "cash", name)
                b.row(keys, -1, cust, excess, cur, excess, cur, "unapplied", name, inv)
            elif name == "duplicate":
                payer, acct = c.payer(rng, cust)
                memo = _mixed_memos(rng, inv, zh, 0.7)
                keys = b.receipt(date, amt, cur, payer, acct, memo)
                b.row(keys, inv, cust, amt, cur, amt, cur, "cash", name)
                again = np.minimum(date + rng.integers(0, 5, k), self.end)
                keys = b.receipt(again, amt, cur, payer, acct, memo)
                b.row(keys, -1, cust, amt, cur, amt, cur, "unapplied", name, inv)
            elif name in ("decimal_shift", "transposition", "partial"):
                if name == "decimal_shift":
                    wrong = np.where(rng.random(k) < 0.5, amt * 10, _round_div(amt, 10))
                elif name == "transposition":
                    wrong = np.array([_transpose(a, rng) for a in amt.tolist()], dtype=np.int64)
                else:
                    part = rng.integers(20, 91, k)
                    wrong = np.where(amt >= 1_000_000, amt * part // 100 // 10_000 * 10_000, 0)
                    wrong = np.where(wrong > 0, wrong, amt * part // 100)
                payer, acct = c.payer(rng, cust)
                memo = _mixed_memos(rng, inv, zh, 0.6)
                keys = b.receipt(date, wrong, cur, payer, acct, memo)
                if name == "partial":
                    b.row(keys, inv, cust, wrong, cur, wrong, cur, "cash", name)
                else:
                    b.row(keys, -1, cust, wrong, cur, wrong, cur, "unapplied", name, inv)

    def _wrong_refs(self, rng, e, period_invoices) -> tuple[np.ndarray, np.ndarray]:
        """Invoice numbers of *other* customers with other amounts, as memos."""
        nos, custs, amts = period_invoices
        pick = rng.integers(0, len(nos), len(e["no"]))
        for _ in range(20):
            bad = (custs[pick] == e["cust"]) | (amts[pick] == e["amount"])
            if not bad.any():
                break
            pick = np.where(bad, (pick + 1 + rng.integers(0, 50, len(pick))) % len(nos), pick)
        wrong = nos[pick]
        return _ref_memos(rng, wrong, self.c.zh[e["cust"]]), wrong

    def _combined(self, e) -> None:
        """One receipt per (customer, currency) group of ``combined`` invoices."""
        rng, c, b = self.rng, self.c, self.book
        key = e["cust"] * 4 + e["cur"]
        order = np.lexsort((e["no"], key))
        key_sorted = key[order]
        starts = np.flatnonzero(np.r_[True, key_sorted[1:] != key_sorted[:-1]])
        bounds = np.r_[starts, len(order)]
        groups = [order[bounds[i] : bounds[i + 1]] for i in range(len(starts))]
        cust = np.array([e["cust"][g[0]] for g in groups], dtype=np.int64)
        amount = np.array([e["amount"][g].sum() for g in groups], dtype=np.int64)
        date = np.array([e["pay_date"][g].max() for g in groups], dtype=np.int64)
        cur = np.array([e["cur"][g[0]] for g in groups], dtype=np.int64)
        memo = []
        for g, style in zip(groups, rng.integers(0, 4, len(groups)).tolist(), strict=True):
            ids = [_inv_id(x) for x in e["no"][g].tolist()]
            zh = bool(c.zh[e["cust"][g[0]]])
            if style == 0:
                memo.append(",".join(ids))
            elif style == 1:
                memo.append(f"付{ids[0]}等{len(ids)}笔货款" if zh else f"{ids[0]} and others")
            elif style == 2:
                memo.append("/".join(i.removeprefix("INV") for i in ids))
            else:
                memo.append(("货款", "payment")[0 if zh else 1])
        payer, acct = c.payer(rng, cust)
        keys = b.receipt(date, amount, cur, payer, acct, memo)
        member_key = np.concatenate([np.full(len(g), keys[i]) for i, g in enumerate(groups)])
        sel = np.concatenate(groups)
        amt = e["amount"][sel]
        b.row(
            member_key,
            e["no"][sel],
            e["cust"][sel],
            amt,
            e["cur"][sel],
            amt,
            e["cur"][sel],
            "cash",
            "combined",
        )

    def _installments(self, e) -> None:
        """Two or three receipts per invoice, within the period, summing to the amount.

        ``INSTALLMENT_REF_RATE`` of the receipts (an exact count) name the invoice in one of
        ``REF_MEMO_FORMS``, often with the instalment number (``INV0012345 第1期``,
        ``installment 2/3 INV0012345``); the rest name no invoice (``分期货款``,
        ``installment 2/3``, generic or empty) and need a person to match.
        """
        rng, c, b = self.rng, self.c, self.book
        rows: dict[str, list] = {k: [] for k in ("i", "date", "amount", "part", "parts")}
        for i in range(len(e["no"])):
            parts = int(rng.integers(2, 4))
            amt = int(e["amount"][i])
            cuts = np.sort(rng.integers(1, amt, parts - 1)) if amt > parts else np.arange(1, parts)
            pieces = np.diff(np.r_[0, cuts, amt])
            rounded = pieces[:-1] // 10_000 * 10_000  # large invoices: round installments
            if (rounded > 0).all() and amt - rounded.sum() > 0:
                pieces = np.r_[rounded, amt - rounded.sum()]
            days = np.sort(rng.integers(int(e["pay_date"][i]), self.end + 1, parts))
            for j, (p, d) in enumerate(zip(pieces.tolist(), days.tolist(), strict=True)):
                rows["i"].append(i)
                rows["date"].append(d)
                rows["amount"].append(p)
                rows["part"].append(j + 1)
                rows["parts"].append(parts)
        ii = np.array(rows["i"], dtype=np.int64)
        cust, cur = e["cust"][ii], e["cur"][ii]
        zh = c.zh[cust]
        n = len(ii)
        has_ref = np.zeros(n, dtype=bool)
        has_ref[rng.permutation(n)[: round(INSTALLMENT_REF_RATE * n)]] = True
        refs = _ref_memos(rng, e["no"][ii], zh)
        marked = rng.random(n) < 0.6
        plain = _generic_memos(rng, zh)
        style = rng.integers(0, 3, n)
        memo = []
        for k in range(n):
            j, parts, z = rows["part"][k], rows["parts"][k], bool(zh[k])
            if has_ref[k]:
                if not marked[k]:
                    memo.append(refs[k])
                else:
                    memo.append(f"{refs[k]} 第{j}期" if z else f"installment {j}/{parts} {refs[k]}")
            elif style[k] == 0:
                memo.append(plain[k])
            elif z:
                memo.append("分期货款" if style[k] == 1 else f"第{j}期货款")
            else:
                memo.append(f"installment {j}/{parts}" if style[k] == 1 else "INSTALLMENT")
        payer, acct = c.payer(rng, cust)
        keys = b.receipt(rows["date"], rows["amount"], cur, payer, acct, memo)
        amt = np.array(rows["amount"], dtype=np.int64)
        b.row(keys, e["no"][ii], cust, amt, cur, amt, cur, "cash", "installment")

    def balance_forward(self, rng, e, ledger: dict[str, np.ndarray]) -> None:
        """Lump-sum receipts of ``balance_forward`` customers, applied oldest-first.

        ``e`` holds these customers' invoices planned to be paid this period: per (customer,
        currency) they only set how much is paid and when (1-3 receipts, at the planned
        payment dates). Each receipt is a round amount (or, for 30 %, the exact sum of the
        oldest open invoices) with an on-account memo and no invoice reference, at most
        the open balance of invoices dated up to its value date; the truth applies it
        oldest-first (invoice date, invoice number) over ``ledger`` (every invoice of these
        customers so far, ``open`` amount updated in place), the last one possibly partly.
        Receipts of one customer and currency fall on distinct days, so the order in which
        they are applied is their value-date order.
        """
        c, b = self.c, self.book
        key = e["cust"] * 4 + e["cur"]
        recs: dict[str, list] = {k: [] for k in ("cust", "cur", "date", "amount")}
        alloc: list[tuple[int, int, int]] = []  # (receipt index in recs, invoice no, applied)
        for g in np.unique(key).tolist():
            sel = np.flatnonzero(key == g)
            sel = sel[np.lexsort((e["no"][sel], e["pay_date"][sel]))]
            parts = 1 if len(sel) == 1 else int(rng.integers(1, min(3, len(sel)) + 1))
            plan: dict[int, int] = {}  # value date -> budget (chunks on one day merged)
            for ch in np.array_split(sel, parts):
                d = int(e["pay_date"][ch].max())
                plan[d] = plan.get(d, 0) + int(e["amount"][ch].sum())
            cu, cy = g // 4, g % 4
            mine = np.flatnonzero((ledger["cust"] == cu) & (ledger["cur"] == cy))
            mine = mine[np.lexsort((ledger["no"][mine], ledger["date"][mine]))]
            for (d, budget), exact in zip(plan.items(), rng.random(len(plan)) < 0.3, strict=True):
                avail = mine[(ledger["date"][mine] <= d) & (ledger["open"][mine] > 0)]
                opens = ledger["open"][avail]
                balance = int(opens.sum())
                if balance <= 0:
                    continue
                target = min(budget, balance)
                step = 10 ** int(np.clip(len(str(target // 100)) - 2, 2, 4)) * 100
                amount = int(_round_div(np.int64(target), step)) * step
                if amount > balance:
                    amount = balance // step * step
                cum = np.cumsum(opens)
                if exact and cum[0] <= target:  # pays the oldest invoices' balance exactly
                    amount = int(cum[cum <= target][-1])
                if amount <= 0:
                    amount = balance
                r = len(recs["date"])
                for k, v in (("cust", cu), ("cur", cy), ("date", d), ("amount", amount)):
                    recs[k].append(v)
                # oldest-first over invoices dated up to the value date, the last partly
                applied = np.minimum(opens, np.maximum(amount - (cum - opens), 0))
                for i, x in zip(avail.tolist(), applied.tolist(), strict=True):
                    if x > 0:
                        ledger["open"][i] -= x
                        alloc.append((r, int(ledger["no"][i]), x))
        if not recs["date"]:
            return
        cust = np.array(recs["cust"], dtype=np.int64)
        zh = c.zh[cust]
        memo = np.where(
            zh,
            _pick(rng, ON_ACCOUNT_MEMOS_ZH, len(cust)),
            _pick(rng, ON_ACCOUNT_MEMOS_EN, len(cust)),
        )
        payer, acct = c.payer(rng, cust)
        cur = np.array(recs["cur"], dtype=np.int64)
        keys = b.receipt(recs["date"], recs["amount"], cur, payer, acct, memo)
        r, inv, applied = (np.array(x, dtype=np.int64) for x in zip(*alloc, strict=True))
        b.row(keys[r], inv, cust[r], applied, cur[r], applied, cur[r], "cash", "balance_forward")

    def _credit_notes(self, e, amount: np.ndarray, pay_date: np.ndarray) -> None:
        """Credit notes against invoices, dated between invoice (or period start) and payment."""
        lo = np.maximum(e["date"], self.start)
        date = lo + np.floor(self.rng.random(len(lo)) * (pay_date - lo + 1)).astype(np.int64)
        zh = self.c.zh[e["cust"]]
        reason = np.where(
            zh, _pick(self.rng, CN_REASONS, len(zh)), _pick(self.rng, EN_REASONS, len(zh))
        )
        self.credits.append(
            {
                "cust": e["cust"],
                "date": date,
                "amount": amount,
                "inv": e["no"],
                "cur": e["cur"],
                "reason": reason,
            }
        )

    def rebates(self, count: int) -> None:
        """Credit notes not tied to an invoice (annual rebates): they affect no receipt."""
        rng, c = self.rng, self.c
        cust = rng.choice(c.n, size=count, p=c.weight)
        cur = c.cur[cust].astype(np.int64)
        amount = rng.integers(5, 200, count) * np.where(cur == CNY, 10_000, 1_000)
        zh = c.zh[cust]
        self.credits.append(
            {
                "cust": cust,
                "date": rng.integers(self.start, self.end + 1, count),
                "amount": amount,
                "inv": np.full(count, -1),
                "cur": cur,
                "reason": np.where(zh, "年度返利", "annual volume rebate").astype(object),
            }
        )

    def _unidentified(self, count: int) -> None:
        """Receipts from unknown payers (people, payment platforms) with no memo."""
        rng, c, b = self.rng, self.c, self.book
        amount = np.round(np.exp(rng.normal(np.log(8_000), 1.0, count)), 2)
        amount = (amount * 100).astype(np.int64).clip(10_000)
        known = rng.random(count) < 0.5
        domestic = np.flatnonzero(c.zh)  # e.g. the owner paying from a personal account
        cust = np.where(known, domestic[rng.integers(0, len(domestic), count)], -1)
        person = [
            PERSON_SURNAMES[int(rng.integers(0, len(PERSON_SURNAMES)))]
            + "".join(PERSON_GIVEN[j] for j in rng.integers(0, len(PERSON_GIVEN), int(m)))
            for m in rng.integers(1, 3, count)
        ]
        payer = np.where(
            rng.random(count) < 0.85,
            np.array(person, dtype=object),
            _pick(rng, PLATFORM_PAYERS, count),
        )
        acct = np.array(
            [
                None if rng.random() < 0.3 else "62" + f"{int(rng.integers(0, 10**15)):015d}"
                for _ in range(count)
            ],
            dtype=object,
        )
        date = rng.integers(self.start, self.end + 1, count)
        cur = np.zeros(count, dtype=np.int64)
        keys = b.receipt(date, amount, cur, payer, acct, np.full(count, None, dtype=object))
        b.row(keys, -1, cust, amount, cur, amount, cur, "unapplied", "unidentified")

    def fx_frame(self) -> pl.DataFrame:
        """Daily rates for the period and the 10 days before it."""
        days = np.arange(self.start - 10, self.end + 1)
        return pl.DataFrame(
            {
                "date": np.repeat(days, 2).astype(np.int32),
                "currency": ["EUR", "USD"] * len(days),
                "rate": np.column_stack(
                    [self.fx[EUR][days - self.fx_start], self.fx[USD][days - self.fx_start]]
                ).ravel(),
            },
            schema_overrides={"date": pl.Date},
        )

    # ---- output frames
    def finish(self, first_receipt_no: int) -> tuple[pl.DataFrame, pl.DataFrame, int]:
        """Bank statement and truth frames, receipts numbered in value-date order."""
        rng, c = self.rng, self.c
        r = {k: np.concatenate([d[k] for d in self.book.receipts]) for k in self.book.receipts[0]}
        n = len(r["rkey"])
        order = np.lexsort((rng.random(n), r["value_date"]))
        width = max(4, len(str(n)))
        yyyymm = self.period.replace("-", "")
        rid = np.empty(n, dtype=object)
        rid[order] = [f"B{yyyymm}{i + 1:0{width}d}" for i in range(n)]
        bank_ref = [
            f"{_date(d).strftime('%Y%m%d')}{x:06d}{i + first_receipt_no:08d}"
            for i, (d, x) in enumerate(
                zip(
                    r["value_date"][order].tolist(), rng.integers(0, 10**6, n).tolist(), strict=True
                )
            )
        ]
        bank = pl.DataFrame(
            {
                "流水号": rid[order].tolist(),
                "交易日期": r["value_date"][order].astype(np.int32),
                "金额": r["amount"][order],
                "币种": CURRENCIES[r["cur"][order]].tolist(),
                "对方户名": r["payer"][order].tolist(),
                "对方账号": r["account"][order].tolist(),
                "摘要": [m or None for m in r["memo"][order].tolist()],
                "银行流水号": bank_ref,
            },
            schema_overrides={"交易日期": pl.Date, "对方账号": pl.String, "摘要": pl.String},
        )
        t = {k: np.concatenate([d[k] for d in self.book.truth]) for k in self.book.truth[0]}
        kind_rank = {
            "cash": 0,
            "bank_charge": 1,
            "discount": 2,
            "fx_difference": 3,
            "credit_note": 4,
            "unapplied": 5,
        }
        rank = np.array([kind_rank[k] for k in t["kind"].tolist()])
        rpos = np.empty(n, dtype=np.int64)
        rpos[r["rkey"]] = np.arange(n)  # rkeys are 0..n-1 in insertion order
        seq = np.empty(n, dtype=np.int64)
        seq[order] = np.arange(n)
        tseq = seq[rpos[t["rkey"]]]
        torder = np.lexsort((t["inv"], rank, tseq))

        def ids(arr: np.ndarray, table) -> list:
            return [None if x < 0 else table(x) for x in arr[torder].tolist()]

        truth = pl.DataFrame(
            {
                "receipt_id": rid[rpos[t["rkey"]]][torder].tolist(),
                "invoice_id": ids(t["inv"], _inv_id),
                "customer_id": ids(t["cust"], lambda j: c.ids[j]),
                "applied_amount": t["applied"][torder],
                "currency": CURRENCIES[t["cur"][torder]].tolist(),
                "receipt_amount": t["received"][torder],
                "receipt_currency": CURRENCIES[t["rcur"][torder]].tolist(),
                "kind": t["kind"][torder].tolist(),
                "scenario": t["scenario"][torder].tolist(),
                "related_invoice_id": ids(t["related"], _inv_id),
            },
            schema_overrides={"invoice_id": pl.String, "related_invoice_id": pl.String},
        )
        return bank, truth, n

    def credit_frame(self, first_no: int) -> tuple[pl.DataFrame, int]:
        """The period's credit notes in date order, numbered from ``first_no``."""
        cr = {k: np.concatenate([d[k] for d in self.credits]) for k in self.credits[0]}
        n = len(cr["cust"])
        order = np.lexsort((cr["inv"], cr["cust"], cr["date"]))
        return (
            pl.DataFrame(
                {
                    "credit_id": [f"CN{first_no + i:07d}" for i in range(n)],
                    "customer_id": self.c.ids[cr["cust"][order]].tolist(),
                    "date": cr["date"][order].astype(np.int32),
                    "amount": cr["amount"][order].astype(np.int64),
                    "invoice_id": [
                        None if x < 0 else _inv_id(x) for x in cr["inv"][order].tolist()
                    ],
                    "reason": cr["reason"][order].tolist(),
                    "currency": CURRENCIES[cr["cur"][order]].tolist(),
                },
                schema_overrides={"date": pl.Date, "invoice_id": pl.String},
            ),
            n,
        )


# --------------------------------------------------------------------------- public API


def generate(
    out_dir: Path,
    *,
    seed: int = 20261031,
    periods: Sequence[str] = ("2026-09", "2026-10"),
    n_customers: int = 300,
    invoices_per_period: int = 2500,
    fmt: str = "csv",
    paid_share: float | None = None,
) -> dict:
    """Write a customer master and, per period, invoices, bank statement, credit notes,
    FX rates and the ground truth; return counts.

    ``paid_share``: the share of a period's invoices (of customers who pay) paid within
    that period; by default 90 % of those dated on its first day, falling to 45 % for its
    last day, the rest in later periods or never. ``1.0`` gives about one bank line per
    invoice (the scale benchmark's 1,000,000 invoices and 1,000,000 receipts).

    Files: ``out_dir/customers.<fmt>`` and ``out_dir/<period>/{invoices,bank_statement,
    credit_notes,fx_rates,truth}.<fmt>``. Same arguments give byte-identical files.
    """
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"fmt must be 'csv' or 'parquet', not {fmt!r}")
    periods = list(periods)
    bounds = [_period_bounds(p) for p in periods]
    if not periods or any(b[0] >= a[0] for a, b in zip(bounds[1:], bounds, strict=False)):
        raise ValueError("periods must be a non-empty list of increasing YYYY-MM months")
    if invoices_per_period < 100:
        raise ValueError("invoices_per_period must be at least 100")
    if paid_share is not None and not 0 <= paid_share <= 1:
        raise ValueError("paid_share must be between 0 and 1")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    cust = _Customers(np.random.default_rng([seed, 1]), n_customers)
    _write(cust.frame(), out_dir / f"customers.{fmt}", fmt, money=["credit_limit"])
    fx_start = bounds[0][0] - 10
    fx = _fx_series(np.random.default_rng([seed, 2]), fx_start, bounds[-1][1])

    summary: dict = {"customers": n_customers, "periods": {}}
    carry: dict[str, np.ndarray] | None = None
    next_inv, next_receipt, next_credit = 1, 0, 1
    # balance-forward customers' invoices and what is still open on each (all periods)
    on_bf = cust.policy == "balance_forward"
    ledger = {c: np.zeros(0, dtype=np.int64) for c in ("no", "cust", "cur", "date", "open")}
    for k, period in enumerate(periods):
        p = _Period(
            np.random.default_rng([seed, 100 + k]), cust, fx, fx_start, period, k, paid_share
        )
        inv = p.invoices(invoices_per_period, next_inv)
        next_inv += invoices_per_period
        pdir = out_dir / period
        _write(
            p.invoice_frame(inv),
            pdir / f"invoices.{fmt}",
            fmt,
            money=["amount", "tax_amount"],
            dates=["invoice_date", "due_date"],
        )

        # events: this period's invoices paid now + carried invoices planned for now
        cols = ("no", "cust", "date", "amount", "cur", "pay_k", "pay_date")
        now = inv["pay_k"] == k
        ev = {c: inv[c][now] for c in cols}
        ev["fresh"] = np.ones(int(now.sum()), dtype=bool)
        if carry is not None:
            due = carry["pay_k"] == k
            m = int(due.sum())
            old = {c: carry[c][due] for c in cols}
            old["pay_date"] = p.start + np.floor(p.rng.random(m) ** 1.2 * (p.end - p.start + 1))
            old["pay_date"] = old["pay_date"].astype(np.int64)
            old["fresh"] = np.zeros(m, dtype=bool)
            ev = {c: np.concatenate([old[c], ev[c]]) for c in ev}
            carry = {c: carry[c][~due] for c in cols}
        later = inv["pay_k"] > k
        new_carry = {c: inv[c][later] for c in cols}
        carry = (
            new_carry
            if carry is None
            else {c: np.concatenate([carry[c], new_carry[c]]) for c in cols}
        )

        bf = on_bf[inv["cust"]]
        new = {"no": inv["no"], "cust": inv["cust"], "cur": inv["cur"], "date": inv["date"]}
        new["open"] = inv["amount"]
        ledger = {c: np.concatenate([ledger[c], new[c][bf]]) for c in ledger}
        bf = on_bf[ev["cust"]]  # their plans only set how much they pay, and when
        open_item = {c: v[~bf] for c, v in ev.items()}
        scen = p.assign(open_item)
        p.pay(open_item, scen, (inv["no"], inv["cust"], inv["amount"]))
        p.balance_forward(
            np.random.default_rng([seed, 200 + k]), {c: v[bf] for c, v in ev.items()}, ledger
        )
        p.rebates(max(3, invoices_per_period // 500))
        bank, truth, n_receipts = p.finish(next_receipt)
        next_receipt += n_receipts
        credits, n_credits = p.credit_frame(next_credit)
        next_credit += n_credits
        _write(
            bank,
            pdir / f"bank_statement.{fmt}",
            fmt,
            dates=["交易日期"],
            date_format="%Y/%m/%d",
            thousands=["金额"],
        )
        _write(credits, pdir / f"credit_notes.{fmt}", fmt, money=["amount"], dates=["date"])
        _write(p.fx_frame(), pdir / f"fx_rates.{fmt}", fmt, dates=["date"], rates=["rate"])
        _write(truth, pdir / f"truth.{fmt}", fmt, money=["applied_amount", "receipt_amount"])
        summary["periods"][period] = {
            "invoices": invoices_per_period,
            "receipts": n_receipts,
            "credit_notes": n_credits,
            "truth_rows": truth.height,
            "paid_invoices_in_period": int(now.sum()),
            "carried_invoices_paid": len(ev["no"]) - int(now.sum()),
            "scenarios": {
                s: int(n)
                for s, n in truth.group_by("scenario")
                .agg(pl.col("receipt_id").n_unique())
                .sort("scenario")
                .iter_rows()
            },
        }
    return summary
