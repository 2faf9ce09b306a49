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

What really happened is not always what the data can tell. The truth's ``expected`` says
what a careful clerk could do at month end with the period's files alone (``_Clerk``):
``apply`` -- the data leads to the truth's allocation and to nothing else; ``hold`` -- it
does not (the rows still say what the receipt really pays, but it must stay unapplied or be
a suggestion); ``unapplied`` -- the receipt pays no invoice. It is per receipt, except for a
lump sum whose memo names some of its invoices (付INV0012345等4笔货款) when the others
cannot be found: the named rows ``apply``, the rest ``hold``. The clerk's ledger is the
invoices less credit notes less what it applied (held receipts leave invoices open), over
invoices dated up to the value date, whatever their age. Evidence, strongest first: a memo
naming the invoice at its exact balance; the master's balance-forward policy; an amount
read over the payer's open invoices (``_Clerk.determines``: one exact balance, else one
invoice within a tolerance -- to the cent by the customer's discount in its window or
rounding 0.05, else a whole-unit bank charge up to 50 and 10 %, else FX within 2 % --, else
one combination of 2-6, else a part payment of the only candidate). The payer is a known
account, else the master name, else every customer one of whose names, aliases or bank
spellings it is (with no payer name: the longest customer name or alias in the memo). A
memo naming the invoice that fits only within a tolerance, or is part- or overpaid, and an
exact balance on another of the payer's open invoices are two readings of the same
strength (hold), unless the memo announces an instalment; a memo naming another invoice
that fits, or another of the payer's own, is a rival to the amount's reading unless its
number is one keying slip (two digits swapped, one digit one off) from the exact one.
Per scenario:

- ``exact_ref``: memo names the invoice, exact amount: apply.
- ``no_ref``: generic memo: apply when exactly one open invoice of the payer has that
  balance (the same amount twice, or on an old invoice, is a hold).
- ``name_variant``: a bank spelling of the name, often no account: with the invoice named,
  apply; else the spelling (unless shared with another customer) or account gives the
  customer(s), then the no_ref rule.
- ``combined``: a memo listing every invoice applies; a memo naming one and a count, or
  none, applies only when exactly one combination of open balances (with the named one,
  of that count) adds up and no single invoice fits; else the named invoice applies alone.
- ``installment``: a part naming its invoice applies (unless an exact balance elsewhere
  rivals it without 第N期 in the memo); a part naming nothing applies when it equals the
  invoice's rest after the named parts, or announces an instalment and one invoice is
  being paid by instalments, or the invoice is the customer's only open one.
- ``bank_charge`` / ``discount`` / ``fx``: memo names the invoice: apply (unless an exact
  balance elsewhere rivals it); else one open invoice within that tolerance and none exact.
- ``credit_note``: the credit note names the invoice, so the receipt is its exact rest:
  the exact_ref or no_ref rule.
- ``overpayment``: memo names the invoice, the excess stays unapplied: apply (unless an
  exact balance elsewhere rivals the reference).
- ``duplicate``: the first line by its own evidence; the second copy is ``unapplied``
  (either copy may be called the payment).
- ``decimal_shift`` / ``transposition``: a keying error is a query, not a payment:
  unapplied.
- ``parent_payer``: a parent in master data pays its subsidiary's invoice by reference:
  apply.
- ``unidentified``: nobody in master data, no memo: unapplied.
- ``partial``: memo names the invoice: apply (unless an exact balance elsewhere rivals
  it); a generic memo only when it is the customer's only open invoice in that currency
  once the other receipts are applied; else hold.
- ``memo_typo``: the memo names another customer's invoice of another amount, which the
  payer cannot owe: the no_ref rule.
- ``balance_forward``: the master's policy: apply, oldest first.

The wide world (``generate(..., world="wide")``) adds, on top of customers that share a
trade name across cities (上海华润五金贸易 / 北京华润五金 / 华润五金贸易（深圳）, the short
name an alias of each):

- ``shared_alias``: the payer is a trade name several customers share, no account: with the
  invoice named, apply; else the no_ref rule over all of them.
- ``third_party``: an unlinked payer names the invoice in full, exact amount: apply.
- ``empty_payer``: no payer name or account, the customer's name (or short name) in the
  memo: the no_ref rule over the customer(s) it names.
- ``old_invoice``: an invoice 200-400 days old paid by amount only: the no_ref rule (the
  clerk looks at every open invoice, whatever its age).
- ``mistyped_ref``: the memo names another invoice with another amount, one keying slip
  from the one paid: the no_ref rule on the payer's invoices.
- ``truncation`` / ``dropped_digit`` / ``doubled_digit``: keying errors (1234.56 -> 123.45
  or 123.46, 124.56, 12334.56): unapplied.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
import unicodedata
from bisect import bisect_right
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import polars as pl

from arlib.money import fmt_cents_expr, fmt_money, from_cents, money_expr

__all__ = ["generate", "SCENARIOS", "WIDE_SCENARIOS", "WORLDS", "EXPECTED", "REF_MEMO_FORMS"]

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
# The ``world="wide"`` profile adds these scenarios (after the default ones).
WIDE_SCENARIOS = (
    *SCENARIOS,
    "shared_alias",
    "third_party",
    "empty_payer",
    "old_invoice",
    "mistyped_ref",
    "truncation",
    "dropped_digit",
    "doubled_digit",
)
WORLDS = {"default": SCENARIOS, "wide": WIDE_SCENARIOS}
# truth ``expected``: what a careful clerk could do with the data alone (module docstring)
EXPECTED = ("apply", "hold", "unapplied")
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
# wide world only: rates as above, eligibility of shared_alias (customers whose short trade
# name another customer shares), the backlog of old invoices in the first period
WIDE_RATES = {
    "third_party": 0.01,
    "empty_payer": 0.01,
    "mistyped_ref": 0.008,
    "truncation": 0.003,
    "dropped_digit": 0.003,
    "doubled_digit": 0.003,
}
WIDE_RESTRICTED_RATES = {"shared_alias": (0.3, 0.03)}
STEM_GROUP_SHARE = 0.3  # share of Chinese customers in groups sharing one trade name
OLD_INVOICE_SHARE = 0.03  # old open invoices (x invoices per period) listed in period 1
OLD_INVOICE_AGE = (200, 400)  # days before the first period's first day
OLD_INVOICE_PAID = (0.3, 0.3)  # share paid in the first / the second period (rest: never)
# The clerk's tolerances (the documented defaults of ``matching:``): a bank charge is a
# shortfall in whole units up to 50 (CNY/USD/EUR) and 10 % of the balance, FX within 2 %
# at the value-date rate, rounding up to 0.05; combination searches stop after this many
# nodes (a search that would need more does not determine anything).
CLERK_BANK_CHARGE_MAX = 5_000
CLERK_BANK_CHARGE_PCT = 10
CLERK_FX_PCT = 2
CLERK_ROUNDING = 5
CLERK_MAX_COMBINED = 6
CLERK_SUBSET_BUDGET = 100_000

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
# third parties (wide world) with no link in master data: none of these suffixes is a
# customer's, so their names are never a customer's name
THIRD_PARTY_ZH = ("供应链管理有限公司", "商业保理有限公司", "投资控股有限公司", "融资租赁有限公司")
THIRD_PARTY_EN = ("Factoring Ltd.", "Payment Services Ltd.", "Supply Chain Finance Inc.")
THIRD_PARTY_FORMS = (0, 4, 6)  # full invoice number: "{id}", "付{id}货款", "Payment for {id}"
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

    def __init__(self, rng: np.random.Generator, n: int, world: str = "default") -> None:
        if n < 10:
            raise ValueError("n_customers must be at least 10")
        self.n = n
        self.world = world
        width = max(6, len(str(n)))
        self.ids = np.array([f"C{i + 1:0{width}d}" for i in range(n)], dtype=object)
        foreign = rng.random(n) < 0.15
        self.cur = np.where(foreign, np.where(rng.random(n) < 0.65, USD, EUR), CNY).astype(np.int8)
        self.zh = self.cur == CNY
        self.names = np.empty(n, dtype=object)
        self.aliases = np.empty(n, dtype=object)
        self.variants: list[list[str]] = [[] for _ in range(n)]
        self.short = np.empty(n, dtype=object)  # the short trade name (first alias)
        self.emails = np.empty(n, dtype=object)
        self.phones = np.empty(n, dtype=object)
        self._names(rng)
        _, which, counts = np.unique(
            self.short.astype(str), return_inverse=True, return_counts=True
        )
        self.shared_short = counts[which] > 1  # short trade name shared with another customer
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
        forms = [0] * len(combos)
        if self.world == "wide":
            combos, forms = _stem_groups(rng, combos)
        for i, (ci, co, ind, su), form in zip(zh_idx, combos, forms, strict=True):
            self._zh_customer(rng, int(i), ci, co, ind, su, form)
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

    def _zh_customer(self, rng, i: int, ci: int, co: int, ind: int, su: int, form: int = 0) -> None:
        """``form`` 1 (wide world): the city in brackets after the trade name, 华润五金贸易（深圳）
        有限公司 style, as some registered names are."""
        city, city_en, area, shi = CITIES[ci]
        core, core_py = CORES[co]
        industry, industry_en = INDUSTRIES[ind]
        suffix, suffix_en = SUFFIXES[su]
        name = f"{city}{'市' if shi else ''}{core}{industry}{suffix}"
        city_first = name
        if form == 1:
            head = suffix.removesuffix("有限公司").removesuffix("股份")
            name = f"{core}{industry}{head}（{city}）{suffix[len(head) :]}"
        short = f"{core}{industry}"
        self.short[i] = short
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
        if form == 1:
            variants.append(city_first)
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
        self.short[i] = short
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


def _stem_groups(rng: np.random.Generator, combos: list[tuple]) -> tuple[list[tuple], list[int]]:
    """Wide world: put ``STEM_GROUP_SHARE`` of the Chinese customers in groups of 2-4 that
    share one trade name and industry in other cities (上海华润五金贸易有限公司,
    北京华润五金有限公司, 华润五金贸易（深圳）有限公司): their short name, an alias in master
    data, is then shared. Returns the new (city, core, industry, suffix) tuples, still
    distinct, and a name form per customer (1: city in brackets, for about a third of the
    members after the first)."""
    combos = list(combos)
    forms = [0] * len(combos)
    used = set(combos)
    members = rng.permutation(len(combos))[: round(STEM_GROUP_SHARE * len(combos))].tolist()
    pos = 0
    while pos + 2 <= len(members):
        size = int(rng.integers(2, 5))
        group = members[pos : pos + size]
        pos += size
        ci0, co, ind, _ = combos[group[0]]
        cities = [c for c in rng.permutation(len(CITIES)).tolist() if c != ci0]
        for g, ci in zip(group[1:], cities, strict=False):
            su0 = combos[g][3]
            for step in range(len(SUFFIXES)):
                new = (ci, co, ind, (su0 + step) % len(SUFFIXES))
                if new not in used:
                    used.discard(combos[g])
                    used.add(new)
                    combos[g] = new
                    forms[g] = int(rng.random() < 0.35)
                    break
    return combos, forms


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


def _transpose(cents: int, rng: np.random.Generator, wide: bool = False) -> int:
    """Swap two adjacent differing digits of an amount (a keying error). An amount with
    no such pair (50000.00) gets 9 cents more in the default world, which reads as an
    overpayment; the wide world keys one digit twice instead."""
    s = str(cents)
    spots = [i for i in range(len(s) - 1) if s[i] != s[i + 1] and not (i == 0 and s[1] == "0")]
    if not spots:
        return _double_digit(cents, rng) if wide else cents + 9
    i = spots[int(rng.integers(0, len(spots)))]
    return int(s[:i] + s[i + 1] + s[i] + s[i + 2 :])


def _drop_digit(cents: int, rng: np.random.Generator) -> int:
    """Leave out one digit, not the last (that is a truncation): 1234.56 -> 124.56."""
    s = str(cents)
    spots = [i for i in range(len(s) - 1) if not (i == 0 and s[1] == "0")]
    if len(s) < 4 or not spots:
        return cents * 10 + int(rng.integers(0, 10))  # too short to lose a digit: double
    i = spots[int(rng.integers(0, len(spots)))]
    return int(s[:i] + s[i + 1 :])


def _double_digit(cents: int, rng: np.random.Generator) -> int:
    """Key one digit twice: 1234.56 -> 12334.56."""
    s = str(cents)
    i = int(rng.integers(0, len(s)))
    return int(s[: i + 1] + s[i] + s[i + 1 :])


def _number_slips(no: int) -> list[int]:
    """Invoice numbers one keying slip away from ``no`` (7 digits: two adjacent digits
    swapped, or one digit one off), in a fixed order."""
    s = f"{no:07d}"
    out = []
    for i in range(6):
        if s[i] != s[i + 1]:
            out.append(int(s[:i] + s[i + 1] + s[i] + s[i + 2 :]))
    for i in range(7):
        for d in (-1, 1):
            v = int(s[i]) + d
            if 0 <= v <= 9:
                out.append(int(s[:i] + str(v) + s[i + 1 :]))
    return [x for x in dict.fromkeys(out) if x != no and x > 0]


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
        world: str = "default",
        known: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    ) -> None:
        self.rng, self.c, self.fx, self.fx_start = rng, cust, fx, fx_start
        self.period, self.k, self.paid_share = period, k, paid_share
        self.world = world
        # (no, cust, amount) of every invoice issued so far, earlier periods included
        self.known = known
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

    def old_invoices(self, rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
        """Wide world: ``n`` open invoices 200-400 days old (numbers 1..n), listed with the
        first period's invoices, of open-item customers who pay; paid by amount only in the
        first or second period (``OLD_INVOICE_PAID``) or never."""
        c = self.c
        ok = (~c.chronic) & (c.policy == "open_item")
        w = np.where(ok, c.weight, 0.0)
        cust = rng.choice(c.n, size=n, p=w / w.sum())
        date = self.start - rng.integers(OLD_INVOICE_AGE[0], OLD_INVOICE_AGE[1] + 1, n)
        order = np.lexsort((rng.random(n), date))
        cust, date = cust[order], date[order]
        cur = c.cur[cust].astype(np.int64)
        yuan = np.exp(rng.normal(np.log(9_000), 0.8, n)).clip(1_000, 200_000)
        divisor = np.select([cur == USD, cur == EUR], [7.1, 7.75], 1.0)
        amount = np.maximum(np.round(yuan / divisor * 100).astype(np.int64), 10_000)
        u = rng.random(n)
        first, second = OLD_INVOICE_PAID
        pay_k = np.select([u < first, u < first + second], [self.k, self.k + 1], -1)
        return {
            "no": np.arange(1, n + 1, dtype=np.int64),
            "cust": cust.astype(np.int64),
            "date": date.astype(np.int64),
            "due": date + c.terms[cust],
            "amount": amount,
            "cur": cur,
            "pay_k": pay_k.astype(np.int64),
            "pay_date": rng.integers(self.start, self.end + 1, n).astype(np.int64),
            "old": np.ones(n, dtype=bool),
        }

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
        if "old" in ev:  # wide world: old invoices are paid by amount only
            scen[ev["old"]] = "old_invoice"
        for name, (rate, cap) in RESTRICTED_RATES.items():
            take(name, elig[name], min(round(rate * elig[name].sum()), round(cap * n)))
        self._choose_combined(ev, scen, max(2 * MIN_COUNT, round(RATES["combined"] * n)))
        for name, rate in RATES.items():
            if name != "combined":
                take(name, np.ones(n, dtype=bool), round(rate * n))
        if self.world == "wide":
            shared = c.shared_short[cust]
            for name, (rate, cap) in WIDE_RESTRICTED_RATES.items():
                take(name, shared, min(round(rate * shared.sum()), round(cap * n)))
            for name, rate in WIDE_RATES.items():
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
        for name in WORLDS[self.world]:
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
                    wide = self.world == "wide"
                    wrong = np.array(
                        [_transpose(a, rng, wide) for a in amt.tolist()], dtype=np.int64
                    )
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
            else:
                self._pay_wide(name, e)

    def _pay_wide(self, name: str, e: dict[str, np.ndarray]) -> None:
        """The wide world's scenarios (module docstring)."""
        rng, c, b = self.rng, self.c, self.book
        cust, amt, cur, inv, date = e["cust"], e["amount"], e["cur"], e["no"], e["pay_date"]
        zh = c.zh[cust]
        k = len(inv)
        related = None
        if name in ("truncation", "dropped_digit", "doubled_digit"):
            if name == "truncation":  # 1234.56 -> 123.45 or 123.46
                wrong = np.where(rng.random(k) < 0.5, amt // 10, _round_div(amt, 10))
            elif name == "dropped_digit":
                wrong = np.array([_drop_digit(a, rng) for a in amt.tolist()], dtype=np.int64)
            else:
                wrong = np.array([_double_digit(a, rng) for a in amt.tolist()], dtype=np.int64)
            payer, acct = c.payer(rng, cust)
            keys = b.receipt(date, wrong, cur, payer, acct, _mixed_memos(rng, inv, zh, 0.6))
            b.row(keys, -1, cust, wrong, cur, wrong, cur, "unapplied", name, inv)
            return
        if name in ("shared_alias", "old_invoice", "mistyped_ref"):
            payer, acct = c.payer(rng, cust)
            if name == "shared_alias":  # the trade name several customers share, no account
                payer = c.short[cust]
                acct = np.full(k, None, dtype=object)
                memo = _mixed_memos(rng, inv, zh, 0.5)
            elif name == "old_invoice":
                memo = _generic_memos(rng, zh)
            else:
                memo, related = self._slipped_refs(rng, e)
        elif name == "third_party":
            payer, acct = self._third_parties(rng, zh)
            forms = np.array(THIRD_PARTY_FORMS)[rng.integers(0, len(THIRD_PARTY_FORMS), k)]
            forms = np.where(zh | (forms != 4), forms, 0)  # 付{id}货款 only in Chinese
            memo = np.array(
                [REF_MEMO_FORMS[f].format(id=_inv_id(n)) for f, n in zip(forms, inv, strict=True)],
                dtype=object,
            )
        elif name == "empty_payer":  # no payer on the bank line; the memo names the customer
            payer = np.full(k, None, dtype=object)
            acct = np.full(k, None, dtype=object)
            full = rng.random(k) < 0.7
            who = np.where(full, c.names[cust], c.short[cust])
            style = rng.integers(0, 3, k)
            memo = np.array(
                [
                    (f"{w}货款", f"{w} 付款", f"付货款 {w}")[s]
                    if z
                    else (f"{w} payment", f"PAYMENT FROM {w.upper()}", f"{w}")[s]
                    for w, s, z in zip(who, style.tolist(), zh.tolist(), strict=True)
                ],
                dtype=object,
            )
        else:
            raise AssertionError(name)
        keys = b.receipt(date, amt, cur, payer, acct, memo)
        b.row(keys, inv, cust, amt, cur, amt, cur, "cash", name, related)

    def _third_parties(self, rng, zh: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Payers with no link in master data (a factor, a group treasury, a person)."""
        k = len(zh)
        names = np.empty(k, dtype=object)
        for j, z in enumerate(zh.tolist()):
            if z and rng.random() < 0.3:
                names[j] = PERSON_SURNAMES[int(rng.integers(0, len(PERSON_SURNAMES)))] + "".join(
                    PERSON_GIVEN[g] for g in rng.integers(0, len(PERSON_GIVEN), 2)
                )
            elif z:
                city = CITIES[int(rng.integers(0, len(CITIES)))][0]
                core = CORES[int(rng.integers(0, len(CORES)))][0]
                names[j] = f"{city}{core}{THIRD_PARTY_ZH[int(rng.integers(0, 4))]}"
            else:
                a, b = EN_A[int(rng.integers(0, len(EN_A)))], EN_B[int(rng.integers(0, len(EN_B)))]
                names[j] = f"{a} {b} {THIRD_PARTY_EN[int(rng.integers(0, 3))]}"
        acct = np.array(
            ["62" + f"{int(rng.integers(0, 10**15)):015d}" for _ in range(k)], dtype=object
        )
        return names, acct

    def _slipped_refs(self, rng, e) -> tuple[np.ndarray, np.ndarray]:
        """Memos naming, instead of the invoice paid, another invoice one keying slip away
        (``_number_slips``) with another amount: the customer's own when there is one."""
        nos, custs, amts = self.known
        by_no = {int(n): i for i, n in enumerate(nos.tolist())}
        wrong = np.empty(len(e["no"]), dtype=np.int64)
        for j, (no, cu, am) in enumerate(
            zip(e["no"].tolist(), e["cust"].tolist(), e["amount"].tolist(), strict=True)
        ):
            slips = [x for x in _number_slips(no) if x in by_no and amts[by_no[x]] != am]
            own = [x for x in slips if custs[by_no[x]] == cu]
            pool = own or slips
            if not pool:  # no invoice one slip away: another invoice of the customer
                pool = [int(x) for x in nos[(custs == cu) & (amts != am)].tolist()] or [
                    int(nos[0] if nos[0] != no else nos[-1])
                ]
            wrong[j] = pool[int(rng.integers(0, len(pool)))]
        return _ref_memos(rng, wrong, self.c.zh[e["cust"]]), wrong

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
    def finish(
        self, first_receipt_no: int, clerk: _Clerk
    ) -> tuple[pl.DataFrame, pl.DataFrame, int]:
        """Bank statement and truth frames, receipts numbered in value-date order; the
        clerk (who has this period's invoices already) judges each receipt's truth."""
        rng, c = self.rng, self.c
        r = {k: np.concatenate([d[k] for d in self.book.receipts]) for k in self.book.receipts[0]}
        n = len(r["rkey"])
        t = {k: np.concatenate([d[k] for d in self.book.truth]) for k in self.book.truth[0]}
        clerk.add_credits(self.credits)
        expected = clerk.judge(r, t)  # per truth row; rkeys are 0..n-1 as r's rows
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
                "expected": expected[torder].tolist(),
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


# --------------------------------------------------------------------------- the clerk

_MARKERS = re.compile(r"第\d+期|installment \d+/\d+", re.IGNORECASE)
_COUNT = re.compile(r"等(\d+)笔")
_INSTALMENT = re.compile(r"第\d+期|分期|installment", re.IGNORECASE)
_NAME_PUNCT = re.compile(r"[\s,.()'·\-]+")


def _norm(text: str) -> str:
    """A name as the clerk compares it: width, case, spaces and punctuation ignored."""
    text = unicodedata.normalize("NFKC", text).casefold().replace("&", "and")
    return _NAME_PUNCT.sub("", text)


def _memo_refs(memo: str | None) -> tuple[set[int], int | None]:
    """Invoice numbers a memo names (every digit run, instalment markers 第2期 / installment
    2/3 left out) and the count of a 付INV0012345等3笔 memo."""
    if not memo:
        return set(), None
    found = _COUNT.search(memo)
    text = _COUNT.sub(" ", _MARKERS.sub(" ", memo))
    return {int(d) for d in re.findall(r"\d+", text)}, int(found.group(1)) if found else None


class _Budget(Exception):
    pass


def _count_subsets(values: Sequence[int], target: int, lo: int, hi: int) -> int | None:
    """How many sets of ``lo``..``hi`` of ``values`` (distinct positions) add up to
    ``target``: 0, 1 or 2 (two or more); None when the search needs more than
    ``CLERK_SUBSET_BUDGET`` nodes. Depth-first from the largest value, a branch cut when
    its largest value times the places left cannot reach the rest."""
    asc = sorted(v for v in values if 0 < v <= target)
    if sum(asc[-hi:]) < target:
        return 0
    found = 0
    nodes = 0

    def dfs(end: int, rest: int, room: int, depth: int) -> None:
        nonlocal found, nodes
        for i in range(bisect_right(asc, rest, 0, end) - 1, -1, -1):
            v = asc[i]
            if v * room < rest:
                return
            nodes += 1
            if nodes > CLERK_SUBSET_BUDGET:
                raise _Budget
            if v == rest:
                if depth + 1 >= lo:
                    found += 1
                    if found >= 2:
                        raise _Budget
            elif room > 1:
                dfs(i, rest - v, room - 1, depth + 1)

    try:
        dfs(len(asc), target, hi, 0)
    except _Budget:
        return 2 if found >= 2 else None
    return found


class _Clerk:
    """A careful clerk at month end: which receipts' truth the data alone determines.

    Reads what a close reads -- the customer master (names, aliases, payer accounts,
    discount terms, policy), every invoice issued so far, the credit notes, the bank lines,
    the FX rates -- plus the generator's knowledge of the bank-side spellings of each name,
    and judges each receipt's truth (``expected``, module docstring): ``apply`` when the
    data leads to it and to nothing else, ``hold`` when it does not, ``unapplied`` when the
    truth applies nothing. Its ledger carries from period to period the balances a clerk
    would see: invoices less credit notes less the receipts judged ``apply`` (a held
    receipt leaves its invoice open, as it would in the books).
    """

    def __init__(self, c: _Customers, fx: dict[int, np.ndarray], fx_start: int) -> None:
        self.c, self.fx, self.fx_start = c, fx, fx_start
        self.names: dict[str, int] = {}  # master name -> customer
        self.known: dict[str, set[int]] = {}  # name, alias or bank spelling -> customers
        self.master: dict[str, set[int]] = {}  # names and aliases (memo search)
        self.accounts: dict[str, set[int]] = {}
        for j in range(c.n):
            self.names[_norm(c.names[j])] = j
            aliases = [a for a in str(c.aliases[j]).split("|") if a]
            for text in (c.names[j], *aliases, *c.variants[j]):
                self.known.setdefault(_norm(text), set()).add(j)
            for text in (c.names[j], *aliases):
                if len(_norm(text)) >= 4:
                    self.master.setdefault(_norm(text), set()).add(j)
            for a in (c.acct1[j], c.acct2[j]):
                if a is not None:
                    self.accounts.setdefault(a, set()).add(j)
        size = 1
        self.cust = np.full(size, -1, dtype=np.int64)
        self.cur = np.zeros(size, dtype=np.int64)
        self.date = np.zeros(size, dtype=np.int64)
        self.bal = np.zeros(size, dtype=np.int64)
        self.net = np.zeros(size, dtype=np.int64)  # amount less credit notes
        self.instal = np.zeros(size, dtype=bool)  # an instalment was applied to it
        self.by_balance: dict[tuple[int, int, int], set[int]] = {}  # (cust, cur, bal) -> open
        self.of_cust: dict[int, np.ndarray] = {}
        self.version = np.zeros(c.n, dtype=np.int64)

    # ---- the ledger
    def add_invoices(self, inv: dict[str, np.ndarray]) -> None:
        top = int(inv["no"].max()) + 1
        if top > len(self.bal):
            grow = top - len(self.bal)
            self.cust = np.r_[self.cust, np.full(grow, -1, dtype=np.int64)]
            self.cur, self.date, self.bal, self.net = (
                np.r_[a, np.zeros(grow, dtype=np.int64)]
                for a in (self.cur, self.date, self.bal, self.net)
            )
            self.instal = np.r_[self.instal, np.zeros(grow, dtype=bool)]
        no = inv["no"]
        self.cust[no], self.cur[no], self.date[no] = inv["cust"], inv["cur"], inv["date"]
        self.bal[no] = self.net[no] = inv["amount"]
        for x, j, cy, b in zip(
            no.tolist(),
            inv["cust"].tolist(),
            inv["cur"].tolist(),
            inv["amount"].tolist(),
            strict=True,
        ):
            self.by_balance.setdefault((j, cy, b), set()).add(x)
        order = np.argsort(inv["cust"], kind="stable")
        cs, ns = inv["cust"][order], no[order]
        cuts = np.flatnonzero(np.r_[True, cs[1:] != cs[:-1]])
        for a, b in zip(cuts.tolist(), [*cuts[1:].tolist(), len(cs)], strict=True):
            j = int(cs[a])
            self.of_cust[j] = np.r_[self.of_cust.get(j, np.zeros(0, dtype=np.int64)), ns[a:b]]

    def _take(self, no: int, cents: int) -> None:
        j, cy, b = int(self.cust[no]), int(self.cur[no]), int(self.bal[no])
        self.by_balance.get((j, cy, b), set()).discard(no)
        if b - cents > 0:
            self.by_balance.setdefault((j, cy, b - cents), set()).add(no)
        self.bal[no] = b - cents
        self.version[j] += 1

    def exact_open(self, custs, cur: int, cents: int, day: int) -> set[int]:
        """Open invoices of ``custs`` in ``cur`` dated up to ``day`` whose balance is
        ``cents``."""
        out = set()
        for j in custs:
            out |= {x for x in self.by_balance.get((j, cur, cents), ()) if self.date[x] <= day}
        return out

    def add_credits(self, credits: list[dict]) -> None:
        """Credit notes naming an invoice reduce its balance (month end: all are known)."""
        for cr in credits:
            for no, amount in zip(cr["inv"].tolist(), cr["amount"].tolist(), strict=True):
                if no >= 0:
                    self._take(no, amount)
                    self.net[no] -= amount

    # ---- evidence
    def payer_customers(self, payer, account, memo) -> set[int]:
        """Who the bank line says paid: a known account, else the master name, else every
        customer whose name, alias or bank spelling it is; with no payer name, the
        customers whose name or alias (the longest found) the memo holds."""
        if account is not None and len(self.accounts.get(account, ())) == 1:
            return set(self.accounts[account])
        if payer:
            key = _norm(payer)
            if key in self.names:
                return {self.names[key]}
            return set(self.known.get(key, ()))
        if memo:
            text = _norm(memo)
            hits = [k for k in self.master if k in text]
            if hits:
                longest = max(len(k) for k in hits)
                return set().union(*(self.master[k] for k in hits if len(k) == longest))
        return set()

    def _rate(self, cur: int, day: int) -> int:
        return int(self.fx[cur][day - self.fx_start])

    def open_of(self, custs, day: int) -> np.ndarray:
        """Open invoices of ``custs`` dated up to ``day``."""
        none = np.zeros(0, dtype=np.int64)
        if len(custs) == 1:
            (j,) = custs
            nos = self.of_cust.get(j, none)
        else:
            nos = np.concatenate([self.of_cust.get(j, none) for j in sorted(custs)] or [none])
        return nos[(self.bal[nos] > 0) & (self.date[nos] <= day)]

    def fitting(self, nos: np.ndarray, r: dict) -> list[set[int]]:
        """Which of the open invoices ``nos`` the receipt pays within a tolerance, by
        strength: to the cent by a rule (the customer's discount in its window, rounding),
        then a whole-unit bank charge, then FX within the band at the value-date rate."""
        c = self.c
        amount, rc = r["amount"], r["cur"]
        same = nos[self.cur[nos] == rc]
        bal = self.bal[same]
        diff = bal - amount
        owner = self.cust[same]
        pct, days = c.disc_pct[owner], c.disc_days[owner]
        cent = (np.abs(diff) <= CLERK_ROUNDING) | (
            (pct > 0)
            & (r["date"] - self.date[same] <= days)
            & (amount == bal - _round_div(bal * pct, 100))
        )
        fee = (
            (diff > 0)
            & (diff <= CLERK_BANK_CHARGE_MAX)
            & (diff % 100 == 0)
            & (diff * 100 <= CLERK_BANK_CHARGE_PCT * bal)
        )
        fx: set[int] = set()
        if rc != CNY:  # a foreign receipt for base-currency invoices
            base = nos[self.cur[nos] == CNY]
            conv = amount * self._rate(rc, r["date"]) / 10_000
            near = np.abs(conv - self.bal[base]) * 100 <= CLERK_FX_PCT * self.bal[base]
            fx = set(base[near].tolist())
        return [set(same[cent].tolist()), set(same[fee].tolist()), fx]

    def determines(self, r: dict, rows: list[tuple], custs: set[int], need, count) -> bool:
        """Does the amount, over the open invoices of ``custs`` dated up to the value date,
        lead to the truth ``rows`` (inv, kind, applied) and to nothing else? Readings in
        order of strength: one open balance equal to the amount; one invoice within a
        tolerance (bank charge, discount, FX, rounding); one combination of 2-6 open
        balances (with the invoices the memo names, as many as it counts); a part payment:
        when the memo announces an instalment, of the one invoice an announced instalment
        was applied to, else of the one part-paid invoice; else of the only open invoice
        in that currency. The truth must be the only reading at the strongest level
        found."""
        invs = sorted({x[0] for x in rows})
        if not custs or any(self.cust[x] not in custs for x in invs):
            return False
        paid = {x: sum(a for i, k, a in rows if i == x and k != "credit_note") for x in invs}
        offs = any(k in ("bank_charge", "discount", "fx_difference") for _, k, _ in rows)
        if len(invs) == 1:
            x = invs[0]
            bal = int(self.bal[x])
            level = (2 if offs else 1) if paid[x] == bal else 4 if paid[x] < bal and not offs else 0
        else:
            level = 3 if not offs and all(paid[x] == self.bal[x] for x in invs) else 0
        if not level:
            return False
        amount, rc = r["amount"], r["cur"]
        exact = len(self.exact_open(custs, rc, amount, r["date"]))
        if level == 1 or exact:
            return level == 1 and exact == 1
        nos = self.open_of(custs, r["date"])
        same = nos[self.cur[nos] == rc]
        bal = self.bal[same]
        explained = next((tier for tier in self.fitting(nos, r) if tier), set())
        if level == 2 or explained:
            return level == 2 and explained == set(invs)
        if level == 3:
            fixed = [x for x in invs if x in need]
            rest = [
                int(v) for n, v in zip(same.tolist(), bal.tolist(), strict=True) if n not in fixed
            ]
            target = amount - sum(int(self.bal[x]) for x in fixed)
            lo = hi = (count - len(fixed)) if count else None
            if lo is None:
                lo, hi = max(1, 2 - len(fixed)), CLERK_MAX_COMBINED - len(fixed)
            if lo < 1 or target <= 0:
                return False
            return _count_subsets(rest, target, lo, hi) == 1
        # level 4: a part payment
        if r["instalment"]:
            fits = same[bal > amount]
            for started in (fits[self.instal[fits]], fits[self.bal[fits] < self.net[fits]]):
                if len(started):
                    return started.tolist() == invs
        return len(same) == 1

    # ---- a period
    def judge(self, r: dict[str, np.ndarray], t: dict[str, np.ndarray]) -> np.ndarray:
        """``expected`` per truth row of ``t``; the ledger takes what is applied.

        First, vectorised: receipts paying no invoice are ``unapplied``; those of
        balance-forward customers, and those whose memo names the one invoice they pay
        at its exact balance, apply. The rest are judged one by one, to a fixed point (an
        application can settle another receipt's reading): cheaper readings first, the
        combination searches when nothing else moves.
        """
        c = self.c
        n = len(r["rkey"])
        key_t, inv_t, kind_t, app_t = t["rkey"], t["inv"], t["kind"], t["applied"]
        has = inv_t >= 0
        pairs = np.unique(np.stack([key_t[has], inv_t[has]]), axis=1)
        n_inv = np.bincount(pairs[0], minlength=n)
        first = np.full(n, 0, dtype=np.int64)
        first[pairs[0]] = pairs[1]
        spare = np.zeros(n, dtype=bool)  # a row of cash left unapplied (overpayment)
        spare[key_t[kind_t == "unapplied"]] = True
        memo = pl.Series("memo", r["memo"].tolist(), dtype=pl.String)
        frame = pl.DataFrame(
            {"memo": memo, "first": first, "n": n_inv}, schema_overrides={"memo": pl.String}
        ).select(
            pl.col("memo")
            .str.replace_all("(?i)" + _MARKERS.pattern, " ")
            .str.replace_all(_COUNT.pattern, " ")
            .str.extract_all(r"\d+")
            .list.eval(pl.element().cast(pl.Int64, strict=False))
            .alias("nums"),
            pl.col("memo").str.extract(_COUNT.pattern).cast(pl.Int64).alias("count"),
            pl.col("memo")
            .str.contains("(?i)" + _INSTALMENT.pattern)
            .fill_null(False)
            .alias("mark"),
            pl.col("memo").str.contains(r"\d").fill_null(False).alias("digits"),
            ((pl.col("n") == 1) & pl.col("memo").is_not_null()).alias("single"),
        )
        named1 = (
            frame.select(
                pl.col("single") & pl.col("nums").list.contains(pl.lit(first)).fill_null(False)
            )
            .to_series()
            .to_numpy()
        )
        mark = frame["mark"].to_numpy()
        owner = self.cust[first]
        bf = (n_inv > 0) & (c.policy[owner] == "balance_forward")
        exact = named1 & ~spare & (self.cur[first] == r["cur"]) & (self.bal[first] == r["amount"])
        out = np.where(n_inv == 0, "unapplied", "hold").astype(object)
        now = bf | exact
        out[now] = "apply"
        sel = has & now[key_t] & (kind_t != "credit_note")  # credit notes: in the ledger
        touched = np.unique(inv_t[sel])
        before = self.bal[touched].copy()
        np.subtract.at(self.bal, inv_t[sel], app_t[sel])
        np.add.at(self.version, self.cust[inv_t[sel]], 1)
        self.instal[inv_t[sel][mark[key_t[sel]]]] = True
        for x, j, cy, b0, b1 in zip(
            touched.tolist(),
            self.cust[touched].tolist(),
            self.cur[touched].tolist(),
            before.tolist(),
            self.bal[touched].tolist(),
            strict=True,
        ):
            self.by_balance.get((j, cy, b0), set()).discard(x)
            if b1 > 0:
                self.by_balance.setdefault((j, cy, b1), set()).add(x)

        # the rest, one by one
        rest = np.flatnonzero((n_inv > 0) & ~now)
        rows: dict[int, list[tuple]] = {int(k): [] for k in rest.tolist()}
        todo = np.flatnonzero(has & np.isin(key_t, rest))
        for key, no, kind, applied in zip(
            key_t[todo].tolist(),
            inv_t[todo].tolist(),
            kind_t[todo].tolist(),
            app_t[todo].tolist(),
            strict=True,
        ):
            rows[key].append((no, kind, applied))
        part: dict[int, set[int]] = {}  # held receipts whose named invoices are applied
        pending = []
        top = len(self.bal)
        digits, counts = frame["digits"].to_numpy(), frame["count"].to_list()

        def take(key: int, invs: set[int]) -> None:
            for no, kind, applied in rows[key]:
                if no in invs and kind != "credit_note":
                    self._take(no, applied)
                    self.instal[no] |= bool(mark[key])

        def apply(key: int) -> None:
            out[key] = "apply"
            take(key, {x[0] for x in rows[key]})

        def receipt(key: int) -> dict:
            return {
                "date": int(r["value_date"][key]),
                "amount": int(r["amount"][key]),
                "cur": int(r["cur"][key]),
                "instalment": bool(mark[key]),
            }

        for key in rest.tolist():
            named = _memo_refs(r["memo"][key])[0] if digits[key] else set()
            named = {x for x in named if x < top and self.cust[x] >= 0}  # invoices that exist
            invs = {x[0] for x in rows[key]}
            costly = len(invs) > 1
            if invs <= named and costly:
                apply(key)  # a memo listing the invoices a lump sum pays
            elif invs <= named:
                # named, but within a tolerance, part- or overpaid: rivals may exist
                pending.append((int(r["value_date"][key]), key, invs, None, "ref", False))
            else:
                mode = named - invs  # a memo naming other invoices: they may fit
                pending.append(
                    (int(r["value_date"][key]), key, invs & named, counts[key], mode, costly)
                )
        pending.sort(key=lambda x: x[:2])
        seen: dict[int, tuple] = {}
        payers: dict[int, set[int]] = {}

        def judge_one(key: int, need, count, mode) -> bool:
            if key not in payers:
                payers[key] = self.payer_customers(
                    r["payer"][key], r["account"][key], r["memo"][key]
                )
            custs = payers[key]
            owners = {int(self.cust[x]) for x in need} | (
                {int(self.cust[x]) for x in mode} if isinstance(mode, set) else set()
            )
            state = tuple(int(self.version[j]) for j in sorted(custs | owners))
            if seen.get(key) == state:
                return False
            seen[key] = state
            rec = receipt(key)
            if mode == "ref":
                # an exact amount on another open invoice of the payer is a rival reading
                # of the same strength, unless the memo announces an instalment
                rivals = self.exact_open(custs | owners, rec["cur"], rec["amount"], rec["date"])
                return not (rivals - need) or rec["instalment"]
            # other invoices the memo names: one that fits (any customer's) or one of the
            # payer's own that it part- or overpays is believed, unless it is a keying slip
            # of the invoice the amount fits exactly
            others = [x for x in mode if self.bal[x] > 0]
            if others:
                believed = set().union(*self.fitting(np.array(others, dtype=np.int64), rec))
                believed |= {x for x in others if self.cust[x] in custs}
                believed -= {y for z, _, _ in rows[key] for y in _number_slips(z)}
                if believed:
                    return False
            return self.determines(rec, rows[key], custs, need, count)

        searches = False  # combination searches only when the cheaper readings are settled
        while True:
            changed = False
            for _, key, need, count, mode, costly in pending:
                if out[key] == "apply" or key in part or (costly and not searches):
                    continue
                if judge_one(key, need, count, mode):
                    apply(key)
                    changed = True
            if changed:
                continue
            if not searches:
                searches = True
                continue
            for _, key, need, _, mode, _ in pending:  # a lump sum naming some of its
                if mode != "ref" and need and out[key] == "hold" and key not in part:
                    part[key] = need  # invoices: those, in full
                    take(key, need)
                    changed = True
            if not changed:
                break
            searches = False
        expected = out[key_t]
        for j in np.flatnonzero(np.isin(key_t, list(part))).tolist():
            if inv_t[j] in part[key_t[j]]:
                expected[j] = "apply"
        return expected


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
    world: str = "default",
    erp: bool = False,
) -> dict:
    """Write a customer master and, per period, invoices, bank statement, credit notes,
    FX rates and the ground truth; return counts.

    ``erp``: also write the first period into ``erp.db``, a SQLite database laid out like
    a small ERP (:mod:`arlib.erp`), read from the CSVs just written (``fmt="csv"``).

    ``world``: ``"default"`` (the bundled sample) or ``"wide"``: customers sharing trade
    names across cities, the wide world's scenarios (``WIDE_SCENARIOS``) and a backlog of
    ``OLD_INVOICE_SHARE`` x ``invoices_per_period`` old invoices in the first period's
    invoice file (numbered first). The default world's files do not depend on the wide
    world's code.

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
    if world not in WORLDS:
        raise ValueError(f"world must be one of {sorted(WORLDS)}, not {world!r}")
    wide = world == "wide"
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    cust = _Customers(np.random.default_rng([seed, 1]), n_customers, world)
    _write(cust.frame(), out_dir / f"customers.{fmt}", fmt, money=["credit_limit"])
    fx_start = bounds[0][0] - 10
    fx = _fx_series(np.random.default_rng([seed, 2]), fx_start, bounds[-1][1])
    clerk = _Clerk(cust, fx, fx_start)

    summary: dict = {"customers": n_customers, "world": world, "periods": {}}
    carry: dict[str, np.ndarray] | None = None
    n_old = max(5 * MIN_COUNT, round(OLD_INVOICE_SHARE * invoices_per_period)) if wide else 0
    next_inv, next_receipt, next_credit = 1 + n_old, 0, 1
    known = {c: np.zeros(0, dtype=np.int64) for c in ("no", "cust", "amount")}
    # balance-forward customers' invoices and what is still open on each (all periods)
    on_bf = cust.policy == "balance_forward"
    ledger = {c: np.zeros(0, dtype=np.int64) for c in ("no", "cust", "cur", "date", "open")}
    for k, period in enumerate(periods):
        p = _Period(
            np.random.default_rng([seed, 100 + k]),
            cust,
            fx,
            fx_start,
            period,
            k,
            paid_share,
            world,
        )
        inv = p.invoices(invoices_per_period, next_inv)
        next_inv += invoices_per_period
        if wide:
            inv["old"] = np.zeros(invoices_per_period, dtype=bool)
            if k == 0:
                old = p.old_invoices(np.random.default_rng([seed, 300]), n_old)
                inv = {c: np.concatenate([old[c], inv[c]]) for c in inv}
            known = {c: np.concatenate([known[c], inv[c]]) for c in known}
            p.known = (known["no"], known["cust"], known["amount"])
        clerk.add_invoices(inv)
        pdir = out_dir / period
        _write(
            p.invoice_frame(inv),
            pdir / f"invoices.{fmt}",
            fmt,
            money=["amount", "tax_amount"],
            dates=["invoice_date", "due_date"],
        )

        # events: this period's invoices paid now + carried invoices planned for now
        cols = ("no", "cust", "date", "amount", "cur", "pay_k", "pay_date", *(("old",) * wide))
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
        bank, truth, n_receipts = p.finish(next_receipt, clerk)
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
            "invoices": len(inv["no"]),
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
            "expected": {
                e: int(n)
                for e, n in truth.group_by("expected")
                .agg(pl.col("receipt_id").n_unique())
                .sort("expected")
                .iter_rows()
            },
        }
    if erp:
        from arlib import erp as erp_db

        if fmt != "csv":
            raise ValueError("the ERP database is written from the CSV sample (fmt='csv')")
        erp_db.write_sqlite(erp_db.sample_tables(out_dir, periods[0]), out_dir / "erp.db")
        summary["erp"] = {"database": "erp.db", "period": periods[0]}
    return summary
