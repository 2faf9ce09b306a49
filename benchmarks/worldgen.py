"""An independent test world for arlib's matching engine: one period with ground truth.

Written from the data contract (DESIGN.md, docs/CONTRACTS.md, docs/params-defaults.yaml)
and from what a careful AR clerk would do, without reading the engine or arlib's own
generator, so the engine is measured on data its authors did not write.

    python benchmarks/worldgen.py --out DIR [--seed 101] [--customers 400] [--invoices 3000]

writes into DIR:

    params/2026-10.yaml              params that ``arlib reconcile`` accepts (paths relative
                                     to DIR, the folder holding params/)
    data/2026-10/customers.csv       customers with aliases, payer accounts, parents, terms
    data/2026-10/invoices.csv        invoices (header 单据编号 mapped to invoice_id)
    data/2026-10/银行流水.csv          the bank statement, with this world's own headers
                                     (凭证号, 交易日期, 金额, 货币, 付款人, 付款人账户, 摘要,
                                     Bank Ref No.) mapped in the params' ``columns:``
    data/2026-10/credit_notes.csv    credit notes against invoices
    data/2026-10/fx_rates.csv        daily rates (CNY per unit) for USD, EUR, HKD, JPY
    truth.csv                        per receipt: scenario, expected (apply | hold) and, for
                                     apply, one row per allocation (invoice_id, kind,
                                     applied_amount in the invoice's currency, currency,
                                     receipt_amount = the cash the row consumes)
    world.json                       seed, sizes and the count of receipts per scenario

The scenarios and the principle behind each are described in
``benchmarks/independent_quality.py``, which scores the engine on this world.
Everything is deterministic per seed; money is Decimal throughout (2 places, JPY 0).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import datetime as dt
import difflib
import itertools
import json
import random
import re
import unicodedata
from collections import Counter, defaultdict
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from pathlib import Path

PERIOD = "2026-10"
PERIOD_START = dt.date(2026, 10, 1)
PERIOD_END = dt.date(2026, 10, 31)
BASE = "CNY"
DECIMALS = {"CNY": 2, "USD": 2, "EUR": 2, "HKD": 2, "JPY": 0}
# this entity's bank-charge policy, written into the params (matching.bank_charge_max)
BANK_CHARGE_CAP = {
    "CNY": Decimal("50"),
    "USD": Decimal("40"),
    "EUR": Decimal("40"),
    "HKD": Decimal("300"),
    "JPY": Decimal("5000"),
}
BANK_CHARGE_MAX_PCT = Decimal("10")
FEES = {
    "CNY": [10, 15, 20, 25, 30, 50],
    "USD": [15, 20, 25, 30, 35],
    "EUR": [10, 15, 20, 25],
    "HKD": [50, 80, 100, 150, 200],
    "JPY": [1500, 2000, 2500, 3000, 4000],
}
AMOUNT_RANGE = {
    "CNY": (300, 300_000),
    "USD": (150, 60_000),
    "EUR": (150, 50_000),
    "HKD": (800, 400_000),
    "JPY": (20_000, 6_000_000),
}
RATE_START = {
    "USD": Decimal("7.1240"),
    "EUR": Decimal("7.7530"),
    "HKD": Decimal("0.9152"),
    "JPY": Decimal("0.047810"),
}
INVOICE_FIRST_NUMBER = 100001


def _split(text: str, sep: str | None = None) -> list[str]:
    return text.split(sep)


CITIES = _split(
    "上海 北京 广州 深圳 杭州 南京 苏州 天津 重庆 成都 武汉 西安 宁波 厦门 青岛 无锡 长沙 郑州"
)
STEMS = _split(
    "华润 恒信 金达 永利 宏达 鑫源 瑞丰 嘉禾 天成 东方 盛世 中联 华美 利民 德隆 汇通 万通 "
    "明珠 长城 海纳 远航 同创 富源 新兴 隆盛 康泰 金桥 嘉信 博远 晨光"
)
INDUSTRIES = ["贸易", "科技", "电子", "实业", "物流", "机械", "化工", "食品", "建材", "医药"]
# stems and trades no customer has: names of strangers who pay (or seem to)
STRANGER_STEMS = ["德胜", "福临", "顺发", "安泰", "宝丰", "聚源", "凯旋", "鸿运"]
STRANGER_TRADES = ["五金", "餐饮", "装饰", "咨询", "印务", "家政"]
PERSONS = _split(
    "张伟,王芳,李娜,刘洋,陈静,杨磊,赵敏,黄勇,周杰,吴婷,ZHANG WEI,LI NA,WANG FANG,CHEN JING", ","
)
PLATFORMS = [
    "支付宝（中国）网络技术有限公司",
    "财付通支付科技有限公司",
    "PAYPAL PTE. LTD.",
    "WISE PAYMENTS LIMITED",
    "银联商务股份有限公司",
]
EN_WORDS = _split(
    "Acme,Northwind,Blue Harbor,Golden Gate,Silver Line,Red Maple,Pacific Rim,Evergreen,"
    "Summit,Atlas,Orion,Keystone,Bright Star,Oak Ridge,Sunrise,Vertex,Nordic,Alpine,"
    "Coral Bay,Ironwood",
    ",",
)
EN_TRADES = _split(
    "Trading Logistics Electronics Foods Machinery Chemicals Textiles Packaging "
    "Instruments Supplies"
)
# legal forms that make different companies of one trade name (no "Ltd" beside "Limited":
# those two are one company to any reader)
EN_SUFFIXES = ["Ltd", "Inc.", "GmbH", "Pte. Ltd.", "(HK) Ltd", "LLC", "S.A.", "K.K."]
# names full of regex metacharacters, each with a short alias
SPECIAL_NAMES = [
    ("A+B (HK) Co.", "A+B"),
    ("Star*Mart Pte. Ltd.", "STAR*MART"),
    ("[Prime] Supplies LLC", "PRIME"),
    ("Q.E.D. Instruments GmbH", "QED"),
    ("C&D Trading (Shenzhen) Co., Ltd.", "C&D"),
    ("Dollar$ Depot Inc.", "DOLLAR$"),
    ("Hat^Trick Sports Ltd", "HAT^TRICK"),
    ("Pipe|Line Engineering Co.", "PIPELINE"),
    ("What? Design Studio Ltd", "WHAT?"),
    ("Plus+Plus Plastics (HK) Ltd", "PLUS+PLUS"),
]
STRANGER_EN = ["Harrowgate Consulting Ltd", "Quillon Catering LLC", "Zephyr Decor Inc."]
# a character a hurried bank clerk types instead (same sound or shape); none makes a stem
TYPO_ZH = dict(
    tuple(pair)
    for pair in _split(
        "华花 润闰 恒衡 信心 金今 达大 永勇 利力 宏红 源元 瑞睿 丰峰 嘉佳 禾和 天田 成城 "
        "东冬 盛胜 联连 美每 民明 德得 隆龙 汇会 通同 万方 珠株 城成 海每 纳娜 远原 航杭 "
        "创闯 富福 兴星 康糠 泰太 桥侨 博搏 晨辰 光广 贸茂 易益 科棵 技枝 电甸 子仔 实石 "
        "业叶 物务 流留 机基 械戒 化花 工公 食石 品拼 建健 材才 医依 药要 鑫金"
    )
)
PARTIAL_WORDS = [
    "部分付款",
    "第1期",
    "partial payment",
    "分期款 1/3",
    "预付部分货款",
    "1st instalment",
]
PLAIN_MEMOS = ["货款", "10月货款", "payment", "往来款", "服务费", "付货款", "TT PAYMENT", ""]
NOISE_MEMOS = ["合同HT-20260815", "订单PO-88231-A", "季度结算 Q3", "ref 2026/10"]


def q(amount: Decimal, currency: str) -> Decimal:
    """``amount`` to its currency's places, half up (JPY whole yen)."""
    places = Decimal(1) if DECIMALS[currency] == 0 else Decimal(1).scaleb(-DECIMALS[currency])
    return amount.quantize(places, rounding=ROUND_HALF_UP)


def money_text(amount: Decimal, currency: str, grouped: bool = False) -> str:
    amount = q(amount, currency)
    places = DECIMALS[currency]
    return f"{amount:,.{places}f}" if grouped else f"{amount:.{places}f}"


def unit(currency: str) -> Decimal:
    return Decimal(1).scaleb(-DECIMALS[currency])


@dataclasses.dataclass
class Customer:
    customer_id: str
    name: str
    lang: str  # zh | en
    currency: str
    aliases: list[str]
    accounts: list[str]
    terms_days: int
    discount: tuple[Decimal, int] | None = None  # (rate, days)
    parent_id: str | None = None
    family: str = ""  # the shared stem (zh) or trade words (en)

    @property
    def discount_terms(self) -> str:
        if self.discount is None:
            return ""
        rate, days = self.discount
        return f"{int(rate * 100)}/{days} net {self.terms_days}"


@dataclasses.dataclass
class Invoice:
    invoice_id: str
    number: int
    customer_id: str
    invoice_date: dt.date
    due_date: dt.date
    amount: Decimal
    currency: str
    credit: Decimal = Decimal(0)

    @property
    def open(self) -> Decimal:
        return self.amount - self.credit


@dataclasses.dataclass
class Receipt:
    value_date: dt.date
    amount: Decimal
    currency: str
    payer_name: str
    payer_account: str
    memo: str
    scenario: str
    expected: str  # apply | hold
    customer_id: str = ""  # whose money it is, where known
    # (invoice_id, kind, applied_amount, invoice currency, receipt_amount)
    rows: list[tuple[str, str, Decimal, str, Decimal]] = dataclasses.field(default_factory=list)
    group: str = ""  # twins of a duplicate payment share it
    receipt_id: str = ""
    bank_ref: str = ""
    check: str = ""  # which uniqueness the final pass re-checks
    note: str = ""  # the variant, for reading failures (truth.csv: note)


class World:
    """The period being built: customers, invoices, credit notes, receipts and truth."""

    def __init__(self, seed: int, n_customers: int, n_invoices: int):
        self.rng = random.Random(seed)
        self.seed = seed
        self.n_customers = n_customers
        self.n_invoices = n_invoices
        self.customers: list[Customer] = []
        self.by_id: dict[str, Customer] = {}
        self.invoices: list[Invoice] = []
        self.inv_by_id: dict[str, Invoice] = {}
        self.inv_by_cust: dict[str, list[Invoice]] = defaultdict(list)
        self.credit_notes: list[dict] = []
        self.receipts: list[Receipt] = []
        self.used: set[str] = set()  # invoices a scenario targets or reserves
        self.reserved_customers: set[str] = set()
        self.rates: dict[tuple[dt.date, str], Decimal] = {}
        self.residual: dict[str, Decimal] = {}  # invoice → open after its truth rows

    # ------------------------------------------------------------------ customers
    def make_customers(self) -> None:
        rng = self.rng
        n = self.n_customers
        n_en = max(2, round(n * 0.25))
        n_zh = n - n_en
        zh_names: list[tuple[str, str, str]] = []  # name, family alias, family key
        families = [(s, t) for s in STEMS for t in INDUSTRIES]
        rng.shuffle(families)
        fam_iter = iter(families)
        while len(zh_names) < n_zh:
            stem, trade = next(fam_iter)
            size = min(rng.choices([1, 2, 3], [0.45, 0.35, 0.2])[0], n_zh - len(zh_names))
            for city in rng.sample(CITIES, size):
                form = rng.random()
                if form < 0.75:
                    name = f"{city}{stem}{trade}有限公司"
                elif form < 0.9:
                    name = f"{stem}{trade}（{city}）有限公司"
                else:
                    name = f"{city}{stem}{trade}股份有限公司"
                zh_names.append((name, f"{stem}{trade}" if size > 1 else "", stem + trade))
        en_names: list[tuple[str, str, str]] = []
        specials = list(SPECIAL_NAMES)
        rng.shuffle(specials)
        for name, alias in specials[: max(1, min(len(specials), n_en // 6))]:
            en_names.append((name, alias, alias))
        combos = [(w, t) for w in EN_WORDS for t in EN_TRADES]
        rng.shuffle(combos)
        combo_iter = iter(combos)
        while len(en_names) < n_en:
            word, trade = next(combo_iter)
            size = min(rng.choices([1, 2, 3], [0.5, 0.3, 0.2])[0], n_en - len(en_names))
            for suffix in rng.sample(EN_SUFFIXES, size):
                # the short trade alias (ACME) is shared by every customer of that word
                en_names.append((f"{word} {trade} {suffix}", word.upper(), word))
        rows = [(n_, a, f, "zh") for n_, a, f in zh_names] + [
            (n_, a, f, "en") for n_, a, f in en_names
        ]
        rng.shuffle(rows)
        accounts_seen: set[str] = set()
        for index, (name, alias, family, lang) in enumerate(rows):
            if lang == "zh":
                currency = rng.choices(["CNY", "USD"], [0.96, 0.04])[0]
            else:
                currency = rng.choices(
                    ["USD", "EUR", "HKD", "JPY", "CNY"], [0.38, 0.2, 0.15, 0.1, 0.17]
                )[0]
            aliases = [alias] if alias else []
            if lang == "zh" and rng.random() < 0.2:
                aliases.append(name[:2] + name[2:4] if not name.startswith(family) else family)
            accounts = []
            for _ in range(rng.choices([0, 1, 2], [0.3, 0.55, 0.15])[0]):
                while True:
                    acct = rng.choice(["6222", "6228", "6217", "4000"]) + "".join(
                        rng.choice("0123456789") for _ in range(rng.choice([12, 15]))
                    )
                    if acct not in accounts_seen:
                        accounts_seen.add(acct)
                        break
                accounts.append(acct)
            terms = rng.choice([30, 30, 45, 60, 90])
            customer = Customer(
                customer_id=f"KH{1001 + index}",
                name=name,
                lang=lang,
                currency=currency,
                aliases=sorted(set(aliases)),
                accounts=accounts,
                terms_days=terms,
                family=family,
            )
            if currency == "CNY" and rng.random() < 0.14:
                customer.discount = (rng.choice([Decimal("0.02"), Decimal("0.01")]), 10)
                customer.terms_days = 30
            self.customers.append(customer)
        self.by_id = {c.customer_id: c for c in self.customers}
        # groups: a parent that may pay for its subsidiaries
        ids = [c.customer_id for c in self.customers]
        parents = rng.sample(ids, max(1, round(n * 0.06)))
        others = [i for i in ids if i not in set(parents)]
        for child in rng.sample(others, min(len(others), round(n * 0.12))):
            self.by_id[child].parent_id = rng.choice(parents)

    def group(self, customer_id: str) -> list[str]:
        """The customer with its parent, subsidiaries and siblings: who may pay for whom."""
        if not hasattr(self, "_groups"):
            children: dict[str, list[str]] = defaultdict(list)
            for c in self.customers:
                if c.parent_id:
                    children[c.parent_id].append(c.customer_id)
            self._groups = {}
            for c in self.customers:
                top = c.parent_id or c.customer_id
                self._groups[c.customer_id] = sorted({top, *children[top]})
        return self._groups[customer_id]

    def related(self, a: str, b: str) -> bool:
        return b in self.group(a)

    # ------------------------------------------------------------------ invoices
    def rand_amount(self, currency: str) -> Decimal:
        low, high = AMOUNT_RANGE[currency]
        value = Decimal(str(round(10 ** self.rng.uniform(_log10(low), _log10(high)), 2)))
        if self.rng.random() < 0.2:
            step = Decimal(1000) if currency == "JPY" else Decimal(100)
            value = max(step, (value / step).quantize(Decimal(1)) * step)
        return q(value, currency)

    def make_invoices(self) -> None:
        rng = self.rng
        weights = [rng.paretovariate(1.6) for _ in self.customers]
        total = sum(weights)
        counts = [int(self.n_invoices * w / total) for w in weights]
        # the rest one by one to the heaviest, and a few customers with nothing open
        order = sorted(range(len(counts)), key=lambda i: -weights[i])
        for i in itertools.islice(itertools.cycle(order), self.n_invoices - sum(counts)):
            counts[i] += 1
        drafts = []
        for customer, count in zip(self.customers, counts, strict=True):
            seen: set[Decimal] = set()
            for _ in range(count):
                amount = self.rand_amount(customer.currency)
                while amount in seen:
                    amount = self.rand_amount(customer.currency)
                seen.add(amount)
                roll = rng.random()
                if roll < 0.08:
                    date = PERIOD_END - dt.timedelta(days=rng.randint(200, 420))
                elif roll < 0.28:
                    date = dt.date(2026, 6, 1) + dt.timedelta(days=rng.randint(0, 91))
                else:
                    date = dt.date(2026, 9, 1) + dt.timedelta(days=rng.randint(0, 54))
                drafts.append((date, rng.random(), customer, amount))
        drafts.sort(key=lambda d: (d[0], d[1]))
        for k, (date, _, customer, amount) in enumerate(drafts):
            number = INVOICE_FIRST_NUMBER + k
            invoice = Invoice(
                invoice_id=f"HX{number}",
                number=number,
                customer_id=customer.customer_id,
                invoice_date=date,
                due_date=date + dt.timedelta(days=customer.terms_days),
                amount=amount,
                currency=customer.currency,
            )
            self.invoices.append(invoice)
            self.inv_by_id[invoice.invoice_id] = invoice
            self.inv_by_cust[customer.customer_id].append(invoice)
        self.by_number = {inv.number: inv for inv in self.invoices}
        # amounts distinct within each group at the start (scenarios add ties on purpose)
        for customer in self.customers:
            if customer.parent_id is None:
                continue
            members = self.group(customer.customer_id)
            seen = Counter(inv.open for m in members for inv in self.inv_by_cust[m])
            for inv in self.inv_by_cust[customer.customer_id]:
                while seen[inv.amount] > 1:
                    seen[inv.amount] -= 1
                    inv.amount = self.rand_amount(inv.currency)
                    seen[inv.amount] += 1

    def make_rates(self) -> None:
        rng = self.rng
        for currency, start in RATE_START.items():
            rate = start
            places = Decimal("0.000001") if currency == "JPY" else Decimal("0.0001")
            day = dt.date(2026, 9, 1)
            while day <= PERIOD_END:
                self.rates[(day, currency)] = rate
                step = Decimal(str(round(rng.uniform(-0.003, 0.003), 5)))
                rate = (rate * (1 + step)).quantize(places, rounding=ROUND_HALF_UP)
                day += dt.timedelta(days=1)

    # ------------------------------------------------------------------ helpers
    def open_invoices(self, customer_id: str) -> list[Invoice]:
        return [inv for inv in self.inv_by_cust[customer_id] if inv.open > 0]

    def group_open(self, customer_id: str) -> list[Invoice]:
        return [inv for m in self.group(customer_id) for inv in self.open_invoices(m)]

    def possible_amounts(self, inv: Invoice) -> set[Decimal]:
        """What the invoice may be open for while the engine works: now, and after its
        truth rows (a partial payment leaves a residual)."""
        return {inv.open} | (
            {self.residual[inv.invoice_id]} if inv.invoice_id in self.residual else set()
        )

    def count_equal(self, invoices: list[Invoice], amount: Decimal) -> int:
        return sum(1 for inv in invoices if amount in self.possible_amounts(inv))

    def near_above(self, invoices: list[Invoice], amount: Decimal, currency: str) -> list[Invoice]:
        """Invoices the receipt could pay less a bank charge (within the cap, whole units)."""
        cap = BANK_CHARGE_CAP[currency]
        return [
            inv
            for inv in invoices
            if inv.currency == currency and amount < inv.open <= amount + cap
        ]

    def subset_count(self, invoices: list[Invoice], target: Decimal, max_size: int = 5) -> int:
        """How many sets of 2..max_size of these invoices add up to ``target`` exactly
        (sets of 4 and 5 only among at most 18 invoices; counting stops above 3)."""
        amounts = sorted(inv.open for inv in invoices if 0 < inv.open < target)
        found = 0
        if max_size >= 2:
            found += _pairs(amounts, target)
        if max_size >= 3:
            for i, first in enumerate(amounts):
                if found > 3 or first * 3 > target:
                    break
                found += _pairs(amounts[i + 1 :], target - first)
        if len(amounts) <= 18:
            for size in range(4, min(max_size, len(amounts)) + 1):
                for combo in itertools.combinations(amounts, size):
                    if sum(combo) == target:
                        found += 1
                        if found > 3:
                            return found
        return found

    def free(self, inv: Invoice) -> bool:
        return inv.invoice_id not in self.used and inv.open > 0

    def candidates(self, predicate=None):
        """Free invoices in this world's shuffled order (fixed per seed)."""
        if not hasattr(self, "_order"):
            self._order = list(self.invoices)
            self.rng.shuffle(self._order)
        for inv in self._order:
            if self.free(inv) and (predicate is None or predicate(inv)):
                yield inv

    def value_date_after(self, *dates: dt.date, latest: dt.date = PERIOD_END) -> dt.date:
        """A business day of the period on or after every date given (and not after
        ``latest``); a weekend only when no business day fits."""
        start = min(max(PERIOD_START, *dates), latest)
        day = start + dt.timedelta(days=self.rng.randint(0, (latest - start).days))
        if day.weekday() >= 5:
            monday = day + dt.timedelta(days=7 - day.weekday())
            friday = day - dt.timedelta(days=day.weekday() - 4)
            if monday <= latest:
                day = monday
            elif friday >= start:
                day = friday
        return day

    def rate(self, day: dt.date, currency: str) -> Decimal:
        return self.rates[(day, currency)]

    # ------------------------------------------------------------------ names
    def bank_name(self, customer: Customer) -> str:
        """The customer's name as a bank line carries it: as registered, or lightly changed
        (upper case, brackets of the other width, punctuation dropped)."""
        name = customer.name
        roll = self.rng.random()
        if roll < 0.6:
            return name
        if customer.lang == "en":
            if roll < 0.85:
                return name.upper()
            return re.sub(r"[.,]", "", name).upper()
        if "（" in name:
            return name.replace("（", "(").replace("）", ")")
        return name

    def known_payer(self, customer: Customer, account_share: float = 0.3) -> tuple[str, str]:
        """(payer_name, payer_account) for a receipt from the customer itself."""
        roll = self.rng.random()
        if customer.accounts and roll < account_share:
            account = self.rng.choice(customer.accounts)
            name = "" if self.rng.random() < 0.25 else self.bank_name(customer)
            return name, account
        return self.bank_name(customer), ""

    def stranger(self) -> str:
        roll = self.rng.random()
        if roll < 0.4:
            return self.rng.choice(PERSONS)
        if roll < 0.6:
            return self.rng.choice(PLATFORMS)
        if roll < 0.75:
            return self.rng.choice(STRANGER_EN)
        city = self.rng.choice(CITIES)
        return f"{city}{self.rng.choice(STRANGER_STEMS)}{self.rng.choice(STRANGER_TRADES)}有限公司"

    def fuzzy_name(self, customer: Customer) -> str | None:
        """A bank-mangled version of the name that a careful clerk still reads as this
        customer (checked against every other customer), or None."""
        kinds = (
            ["typo", "double", "swap", "suffix", "glued", "truncate"]
            if customer.lang == "zh"
            else ["typo", "double", "swap", "reorder", "glued", "truncate", "punct"]
        )
        self.rng.shuffle(kinds)
        for kind in kinds:
            noisy = _mangle(customer, kind, self.rng)
            if noisy and noisy != customer.name and self.clerk_identifies(noisy, customer):
                self.fuzzy_kind = kind
                return noisy
        return None

    def clerk_identifies(self, noisy: str, customer: Customer) -> bool:
        if not hasattr(self, "_norm_names"):
            self._norm_names = [
                (c.customer_id, n) for c in self.customers for n in [c.name, *c.aliases]
            ]
        target = _norm(noisy)
        if any(target == _norm(n) and cid != customer.customer_id for cid, n in self._norm_names):
            return False
        own = _clerk_score(noisy, customer.name)
        if own < 0.8:
            return False
        for cid, name in self._norm_names:
            if cid == customer.customer_id:
                continue
            rough = difflib.SequenceMatcher(None, target, _norm(name)).quick_ratio()
            if (rough > own - 0.08 or _norm(name) in target) and _clerk_score(
                noisy, name
            ) > own - 0.08:
                return False
        return True

    # ------------------------------------------------------------------ memos
    def ref_text(self, inv: Invoice, full: bool = False) -> str:
        if full:
            return inv.invoice_id
        style = self.rng.random()
        number = str(inv.number)
        if style < 0.35:
            return inv.invoice_id
        if style < 0.5:
            return number
        if style < 0.62:
            return f"发票号{number}"
        if style < 0.74:
            return f"INV-{number}"
        if style < 0.84:
            return f"Inv No. {number}"
        if style < 0.92:
            return inv.invoice_id.lower()
        return f"HX {number}"

    def ref_memo(self, refs: list[str]) -> str:
        joined = self.rng.choice(["/", ",", " ", "、"]).join(refs)
        template = self.rng.choice(
            [
                "{r}",
                "货款 {r}",
                "付{r}货款",
                "Payment {r}",
                "{r} 10月货款",
                "支付发票 {r}",
                "{r} TT",
            ]
        )
        return template.format(r=joined)

    def plain_memo(self) -> str:
        if self.rng.random() < 0.15:
            return self.rng.choice(NOISE_MEMOS)
        return self.rng.choice(PLAIN_MEMOS)

    # ------------------------------------------------------------------ receipts
    def receipt(
        self,
        scenario: str,
        value_date: dt.date,
        amount: Decimal,
        currency: str,
        payer: tuple[str, str],
        memo: str,
        customer_id: str = "",
        rows: list | None = None,
        group: str = "",
    ) -> Receipt:
        """Add a receipt: ``payer`` is (name, account); with ``rows`` (its allocations)
        a careful clerk applies it, without it is held."""
        rows = list(rows or [])
        expected = "apply" if rows else "hold"
        name, account = payer
        receipt = Receipt(
            value_date, amount, currency, name, account, memo, scenario, expected, customer_id
        )
        receipt.rows, receipt.group = rows, group
        return self.add(receipt)

    def add(self, receipt: Receipt) -> Receipt:
        if receipt.scenario.startswith("fuzzy") and not receipt.note:
            receipt.note = f"name {self.fuzzy_kind}"
        self.receipts.append(receipt)
        return receipt

    def cash(self, inv: Invoice, amount: Decimal) -> tuple:
        return (inv.invoice_id, "cash", amount, inv.currency, amount)

    def mark(self, *invoices: Invoice) -> None:
        self.used.update(inv.invoice_id for inv in invoices)


def _pairs(amounts: list[Decimal], target: Decimal) -> int:
    """Pairs i < j of the sorted ``amounts`` adding up to ``target`` (two pointers)."""
    found, low, high = 0, 0, len(amounts) - 1
    while low < high:
        total = amounts[low] + amounts[high]
        if total < target:
            low += 1
        elif total > target:
            high -= 1
        elif amounts[low] == amounts[high]:
            n = high - low + 1
            return found + n * (n - 1) // 2
        else:
            a, b = amounts[low], amounts[high]
            left = right = 0
            while low <= high and amounts[low] == a:
                left, low = left + 1, low + 1
            while high >= low and amounts[high] == b:
                right, high = right + 1, high - 1
            found += left * right
    return found


def _log10(x: float) -> float:
    import math

    return math.log10(x)


def _norm(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).upper()
    return re.sub(r"[\W_]+", "", text)


def _clerk_score(noisy: str, name: str) -> float:
    """How surely a person reads ``noisy`` as ``name``: 1 when the whole name is written in
    it (glued to other text) or only its words are reordered, else their similarity."""
    target, wanted = _norm(noisy), _norm(name)
    if len(wanted) >= 6 and wanted in target:
        return 1.0
    if _words(noisy) == _words(name) and len(_words(name)) > 1:
        return 1.0
    return difflib.SequenceMatcher(None, target, wanted).ratio()


def _words(text: str) -> list[str]:
    return sorted(re.findall(r"\w+", unicodedata.normalize("NFKC", text).upper()))


def _mangle(customer: Customer, kind: str, rng: random.Random) -> str | None:
    name = customer.name
    if customer.lang == "zh":
        stem_at = name.find(customer.family)
        if stem_at < 0:
            return None
        span = list(range(stem_at, stem_at + len(customer.family)))
        if kind == "typo":
            spots = [i for i in span if name[i] in TYPO_ZH]
            if not spots:
                return None
            i = rng.choice(spots)
            return name[:i] + TYPO_ZH[name[i]] + name[i + 1 :]
        if kind == "double":
            i = rng.choice(span)
            return name[: i + 1] + name[i] + name[i + 1 :]
        if kind == "swap":
            i = rng.choice(span[:-1])
            return name[:i] + name[i + 1] + name[i] + name[i + 2 :]
        if kind == "suffix":
            if name.endswith("股份有限公司"):
                return name[: -len("股份有限公司")] + "股份公司"
            return name[: -len("有限公司")] + "有限责任公司" if name.endswith("有限公司") else None
        if kind == "glued":
            return name + rng.choice(["货款", "/付款", "往来款", "-10月"])
        if kind == "truncate":
            return name[: max(len(name) - 3, 8)]
        return None
    words = name.split()
    if kind == "typo":
        i = rng.randrange(len(name))
        if not name[i].isalpha():
            return None
        letter = rng.choice("aeiourstnl")
        return name[:i] + (letter.upper() if name[i].isupper() else letter) + name[i + 1 :]
    if kind == "double":
        i = rng.randrange(len(name))
        return name[: i + 1] + name[i] + name[i + 1 :] if name[i].isalpha() else None
    if kind == "swap":
        i = rng.randrange(len(name) - 1)
        if not (name[i].isalpha() and name[i + 1].isalpha()) or name[i] == name[i + 1]:
            return None
        return name[:i] + name[i + 1] + name[i] + name[i + 2 :]
    if kind == "reorder":
        if len(words) < 3:
            return None
        return " ".join([words[1], words[0], *words[2:]]).upper()
    if kind == "glued":
        return name.upper() + rng.choice(["/PAYMENT", " PMT", "/INV PAYMENT", "-TT"])
    if kind == "truncate":
        return name.upper()[:18] if len(name) > 20 else None
    if kind == "punct":
        return name.replace("(", "（").replace(")", "）").replace(".", "").upper()
    return None


# ---------------------------------------------------------------------- keying errors
def _digits(amount: Decimal, currency: str) -> str:
    return money_text(amount, currency).replace(".", "")


def _from_digits(digits: str, currency: str) -> Decimal | None:
    digits = digits.lstrip("0") or "0"
    places = DECIMALS[currency]
    if len(digits) <= places:
        return None
    value = Decimal(digits).scaleb(-places)
    return value if value > 0 else None


def keyed(amount: Decimal, currency: str, kind: str, rng: random.Random) -> Decimal | None:
    """The amount as a person keys it wrongly: one digit dropped, one doubled, two adjacent
    swapped, or the decimal point shifted (x10, x100, /10 and /100, cut or rounded)."""
    digits = _digits(amount, currency)
    if kind == "dropped_digit":
        i = rng.randrange(len(digits))
        return _from_digits(digits[:i] + digits[i + 1 :], currency)
    if kind == "doubled_digit":
        i = rng.randrange(len(digits))
        return _from_digits(digits[: i + 1] + digits[i] + digits[i + 1 :], currency)
    if kind == "transposed":
        spots = [i for i in range(len(digits) - 1) if digits[i] != digits[i + 1]]
        if not spots:
            return None
        i = rng.choice(spots)
        return _from_digits(digits[:i] + digits[i + 1] + digits[i] + digits[i + 2 :], currency)
    if DECIMALS[currency] == 0:
        return None
    if kind == "shift_x10":
        return amount * 10
    if kind == "shift_x100":
        return amount * 100
    cents = Decimal("0.01")
    if kind == "shift_div10_cut":
        return (amount / 10).quantize(cents, rounding=ROUND_DOWN)
    if kind == "shift_div10_round":
        shifted = amount / 10
        cut = shifted.quantize(cents, rounding=ROUND_DOWN)
        up = shifted.quantize(cents, rounding=ROUND_HALF_UP)
        return up if up != cut else None  # only where rounding shows
    if kind == "shift_div100":
        return (amount / 100).quantize(cents, rounding=rng.choice([ROUND_DOWN, ROUND_HALF_UP]))
    return None


KEYING_KINDS = [
    "dropped_digit",
    "doubled_digit",
    "transposed",
    "shift_x10",
    "shift_x100",
    "shift_div10_cut",
    "shift_div10_round",
    "shift_div100",
]


def keying_variants(amount: Decimal, currency: str) -> set[Decimal]:
    """Every amount one keying error away (for keeping honest cases clear of them)."""
    digits = _digits(amount, currency)
    out: set[Decimal] = set()
    for i in range(len(digits)):
        for variant in (
            digits[:i] + digits[i + 1 :],
            digits[: i + 1] + digits[i] + digits[i + 1 :],
        ):
            value = _from_digits(variant, currency)
            if value is not None:
                out.add(value)
        if i + 1 < len(digits):
            value = _from_digits(digits[:i] + digits[i + 1] + digits[i] + digits[i + 2 :], currency)
            if value is not None:
                out.add(value)
    if DECIMALS[currency]:
        cents = Decimal("0.01")
        for factor in (10, 100):
            out.add(amount * factor)
            for mode in (ROUND_DOWN, ROUND_HALF_UP):
                out.add((amount / factor).quantize(cents, rounding=mode))
    out.discard(amount)
    return out


# ---------------------------------------------------------------------- scenarios
# Each builder makes one case (one receipt, or a pair) from free invoices and returns
# True, or False when the world has no invoice left that fits.

RECENT = PERIOD_END - dt.timedelta(days=150)


def _recent(inv: Invoice) -> bool:
    return inv.invoice_date >= RECENT


def _unique_in_group(w: World, inv: Invoice, amount: Decimal | None = None) -> bool:
    amount = inv.open if amount is None else amount
    return w.count_equal(w.group_open(inv.customer_id), amount) == 1


def sc_credit_background(w: World) -> bool:
    for inv in w.candidates():
        full = w.rng.random() < 0.3
        credit = (
            inv.open if full else q(inv.open * Decimal(str(w.rng.uniform(0.05, 0.3))), inv.currency)
        )
        if credit <= 0:
            continue
        _credit(w, inv, credit)
        w.mark(inv)
        return True
    return False


def _credit(w: World, inv: Invoice, amount: Decimal) -> None:
    day = dt.date(2026, 10, 1) + dt.timedelta(days=w.rng.randint(0, 20))
    w.credit_notes.append(
        {
            "credit_id": f"HZ{7001 + len(w.credit_notes)}",
            "customer_id": inv.customer_id,
            "date": max(day, inv.invoice_date).isoformat(),
            "amount": money_text(amount, inv.currency),
            "currency": inv.currency,
            "invoice_id": inv.invoice_id,
            "reason": w.rng.choice(["退货", "价格折让", "price adjustment", "质量索赔"]),
        }
    )
    inv.credit += amount


def sc_credit_note_net(w: World) -> bool:
    for inv in w.candidates(lambda i: i.credit == 0 and i.invoice_date <= dt.date(2026, 10, 20)):
        credit = q(inv.open * Decimal(str(w.rng.uniform(0.05, 0.25))), inv.currency)
        net = inv.open - credit
        if credit <= 0 or w.count_equal(w.group_open(inv.customer_id), net) != 0:
            continue
        _credit(w, inv, credit)
        c = w.by_id[inv.customer_id]
        name, account = w.known_payer(c)
        vd = w.value_date_after(dt.date(2026, 10, 21), inv.invoice_date)
        memo = w.ref_memo([w.ref_text(inv)])
        rows = [w.cash(inv, net)]
        w.receipt(
            "credit_note_net", vd, net, inv.currency, (name, account), memo, c.customer_id, rows
        )
        w.mark(inv)
        return True
    return False


def sc_multi_sum_ambiguous(w: World) -> bool:
    for a in w.candidates(lambda i: _recent(i) and i.credit == 0):
        group = w.group_open(a.customer_id)
        if len(group) > 14:
            continue
        mine = [
            i for i in w.open_invoices(a.customer_id) if w.free(i) and _recent(i) and i is not a
        ]
        mine = [i for i in mine if i.credit == 0]
        if len(mine) < 3:
            continue
        b, c, d = mine[:3]
        total = a.open + b.open
        new_d = total - c.open
        if new_d <= unit(a.currency) * 100 or new_d in {i.open for i in group}:
            continue
        old = d.amount
        d.amount = new_d
        group = w.group_open(a.customer_id)
        if w.count_equal(group, total) or w.subset_count(group, total) < 2:
            d.amount = old
            continue
        c_ = w.by_id[a.customer_id]
        name, account = w.known_payer(c_)
        vd = w.value_date_after(*(i.invoice_date for i in (a, b, c, d)))
        memo = w.plain_memo()
        w.receipt(
            "multi_sum_ambiguous", vd, total, a.currency, (name, account), memo, c_.customer_id
        )
        w.mark(a, b, c, d)
        return True
    return False


def sc_fuzzy_ambiguous(w: World) -> bool:
    for a in w.candidates(lambda i: _recent(i) and i.credit == 0):
        c = w.by_id[a.customer_id]
        others = [i for i in w.open_invoices(c.customer_id) if w.free(i) and i is not a]
        others = [i for i in others if _recent(i) and i.credit == 0]
        if not others:
            continue
        noisy = w.fuzzy_name(c)
        if noisy is None:
            continue
        b = others[0]
        old = b.amount
        b.amount = a.open
        if w.count_equal(w.group_open(c.customer_id), a.open) != 2:
            b.amount = old
            continue
        vd = w.value_date_after(a.invoice_date, b.invoice_date)
        memo = w.plain_memo()
        w.receipt("fuzzy_payer_ambiguous", vd, a.open, a.currency, (noisy, ""), memo, c.customer_id)
        w.mark(a, b)
        return True
    return False


def _shared_aliases(w: World) -> dict[str, list[Customer]]:
    holders: dict[str, list[Customer]] = defaultdict(list)
    for c in w.customers:
        for alias in c.aliases:
            holders[alias].append(c)
    return {k: v for k, v in sorted(holders.items()) if len(v) > 1}


def _alias_ambiguous(w: World, scenario: str) -> bool:
    shared = _shared_aliases(w)
    for a in w.candidates(lambda i: _recent(i) and i.credit == 0):
        c1 = w.by_id[a.customer_id]
        for alias in c1.aliases:
            peers = [c for c in shared.get(alias, []) if c is not c1 and c.currency == c1.currency]
            peers = [c for c in peers if not w.related(c.customer_id, c1.customer_id)]
            for c2 in peers:
                frees = [i for i in w.open_invoices(c2.customer_id) if w.free(i) and _recent(i)]
                frees = [i for i in frees if i.credit == 0]
                if not frees:
                    continue
                b = frees[0]
                old = b.amount
                b.amount = a.open
                both = w.group_open(c1.customer_id) + w.group_open(c2.customer_id)
                if w.count_equal(both, a.open) != 2:
                    b.amount = old
                    continue
                vd = w.value_date_after(a.invoice_date, b.invoice_date)
                if scenario == "empty_payer_alias_ambiguous":
                    payer, memo = "", f"{alias} {w.rng.choice(['货款', '付款', 'payment'])}"
                else:
                    payer, memo = alias, w.plain_memo()
                w.add(Receipt(vd, a.open, a.currency, payer, "", memo, scenario, "hold"))
                w.mark(a, b)
                return True
    return False


def sc_empty_payer_alias_ambiguous(w: World) -> bool:
    return _alias_ambiguous(w, "empty_payer_alias_ambiguous")


def sc_shared_alias_amount_ambiguous(w: World) -> bool:
    return _alias_ambiguous(w, "shared_alias_amount_ambiguous")


def _global_count(w: World, amount: Decimal, currency: str) -> int:
    if not hasattr(w, "_open_index"):
        index: Counter = Counter()
        for inv in w.invoices:
            if inv.open > 0:
                index[(inv.open, inv.currency)] += 1
        w._open_index = index
    return w._open_index[(amount, currency)]


def sc_unknown_payer_amount_only(w: World) -> bool:
    for inv in w.candidates(_recent):
        if _global_count(w, inv.open, inv.currency) != 1:
            continue
        vd = w.value_date_after(inv.invoice_date)
        memo = w.plain_memo()
        w.receipt(
            "unknown_payer_amount_only",
            vd,
            inv.open,
            inv.currency,
            (w.stranger(), ""),
            memo,
            inv.customer_id,
        )
        w.mark(inv)
        return True
    return False


def _clear_of(w: World, customer_id: str, amount: Decimal, currency: str) -> bool:
    """Nothing of the customer's group the amount could honestly pay: no open invoice of
    that amount, none it pays less a bank charge, no 2-3 invoices adding up to it."""
    group = w.group_open(customer_id)
    return (
        w.count_equal(group, amount) == 0
        and not w.near_above(group, amount, currency)
        and w.subset_count(group, amount, 3) == 0
    )


def make_keying(kind: str):
    def build(w: World) -> bool:
        if w.rng.random() < 0.3 and attempt(w, only=True):
            return True
        return attempt(w, only=False)

    def attempt(w: World, only: bool) -> bool:
        for inv in w.candidates():
            c = w.by_id[inv.customer_id]
            if only and (
                len(w.group(c.customer_id)) > 1 or len(w.open_invoices(c.customer_id)) != 1
            ):
                continue
            wrong = keyed(inv.open, inv.currency, kind, w.rng)
            if wrong is None or wrong == inv.open:
                continue
            gap = abs(wrong - inv.open)
            if gap <= BANK_CHARGE_CAP[inv.currency] or gap <= inv.open / 100:
                continue
            stranger = not only and w.rng.random() < 0.2
            if not _clear_of(w, c.customer_id, wrong, inv.currency):
                continue
            if stranger and _global_count(w, wrong, inv.currency):
                continue
            if stranger:
                payer, account = w.stranger(), ""
            else:
                payer, account = w.known_payer(c)
            memo = w.plain_memo() if only else w.ref_memo([w.ref_text(inv)])
            vd = w.value_date_after(inv.invoice_date)
            variant = "only_invoice" if only else "named"
            r = w.receipt(
                f"keying_{kind}", vd, wrong, inv.currency, (payer, account), memo, c.customer_id
            )
            r.check = f"clear:{c.customer_id}:{variant}"
            r.note = variant + (", unknown payer" if stranger else "")
            w.mark(inv)
            return True
        return False

    build.__name__ = f"sc_keying_{kind}"
    return build


def sc_mistyped_ref_other_customer(w: World) -> bool:
    """Payer Y names X's invoice J with another amount; Y is not related to X: hold."""
    payers = [c for c in w.customers if c.customer_id not in w.reserved_customers]
    for j in w.candidates():
        for _ in range(5):
            y = w.rng.choice(payers)
            if w.related(y.customer_id, j.customer_id) or y.currency != j.currency:
                continue
            factor = Decimal(
                str(round(w.rng.choice([w.rng.uniform(0.6, 0.93), w.rng.uniform(1.07, 1.4)]), 4))
            )
            amount = q(j.open * factor, j.currency)
            if abs(amount - j.open) <= BANK_CHARGE_CAP[j.currency] or amount in keying_variants(
                j.open, j.currency
            ):
                continue
            if not _clear_of(w, y.customer_id, amount, j.currency) or _global_count(
                w, amount, j.currency
            ):
                continue
            name, account = w.known_payer(y)
            vd = w.value_date_after(j.invoice_date)
            memo = w.ref_memo([w.ref_text(j)])
            r = w.receipt(
                "mistyped_ref_other_customer",
                vd,
                amount,
                j.currency,
                (name, account),
                memo,
                y.customer_id,
            )
            r.check = f"clear:{y.customer_id}:"
            w.mark(j)
            return True
    return False


def sc_duplicate(w: World) -> bool:
    for inv in w.candidates():
        if not _unique_in_group(w, inv):
            continue
        c = w.by_id[inv.customer_id]
        name, account = w.known_payer(c)
        memo = w.ref_memo([w.ref_text(inv)])
        first = w.value_date_after(inv.invoice_date, latest=dt.date(2026, 10, 27))
        second = first + dt.timedelta(days=w.rng.choice([0, 0, 1, 3, 4]))
        group = f"dup{len(w.receipts)}"
        rows = [w.cash(inv, inv.open)]
        w.receipt(
            "duplicate_first",
            first,
            inv.open,
            inv.currency,
            (name, account),
            memo,
            c.customer_id,
            rows,
            group,
        )
        twin = w.receipt(
            "duplicate_second",
            second,
            inv.open,
            inv.currency,
            (name, account),
            memo,
            c.customer_id,
            [],
            group,
        )
        twin.note = "same day" if second == first else f"{(second - first).days} days later"
        w.mark(inv)
        return True
    return False


def sc_ref_exact(w: World) -> bool:
    for inv in w.candidates():
        c = w.by_id[inv.customer_id]
        name, account = w.known_payer(c)
        vd = w.value_date_after(inv.invoice_date)
        memo = w.ref_memo([w.ref_text(inv)])
        rows = [w.cash(inv, inv.open)]
        w.receipt(
            "ref_exact", vd, inv.open, inv.currency, (name, account), memo, c.customer_id, rows
        )
        w.mark(inv)
        return True
    return False


def sc_amount_only(w: World) -> bool:
    for inv in w.candidates(_recent):
        if not _unique_in_group(w, inv):
            continue
        c = w.by_id[inv.customer_id]
        name, account = w.known_payer(c, account_share=0.35)
        vd = w.value_date_after(inv.invoice_date)
        memo = w.plain_memo()
        rows = [w.cash(inv, inv.open)]
        r = w.receipt(
            "amount_only", vd, inv.open, inv.currency, (name, account), memo, c.customer_id, rows
        )
        r.check = "amount"
        w.mark(inv)
        return True
    return False


def sc_old_overdue_amount(w: World) -> bool:
    oldest = PERIOD_END - dt.timedelta(days=400)
    newest = PERIOD_END - dt.timedelta(days=200)
    for inv in w.candidates(lambda i: oldest <= i.invoice_date <= newest):
        if not _unique_in_group(w, inv):
            continue
        c = w.by_id[inv.customer_id]
        name = w.bank_name(c)
        vd = w.value_date_after(inv.invoice_date)
        memo = w.plain_memo()
        rows = [w.cash(inv, inv.open)]
        r = w.receipt(
            "old_overdue_amount", vd, inv.open, inv.currency, (name, ""), memo, c.customer_id, rows
        )
        r.check = "amount"
        w.mark(inv)
        return True
    return False


def sc_multi_ref(w: World) -> bool:
    for a in w.candidates():
        mine = [i for i in w.open_invoices(a.customer_id) if w.free(i) and i is not a]
        if not mine:
            continue
        chosen = [a, *mine[: w.rng.choice([1, 1, 2])]]
        total = sum(i.open for i in chosen)
        c = w.by_id[a.customer_id]
        name, account = w.known_payer(c)
        vd = w.value_date_after(*(i.invoice_date for i in chosen))
        memo = w.ref_memo([w.ref_text(i) for i in chosen])
        rows = [w.cash(i, i.open) for i in chosen]
        w.receipt("multi_ref", vd, total, a.currency, (name, account), memo, c.customer_id, rows)
        w.mark(*chosen)
        return True
    return False


def sc_multi_sum(w: World) -> bool:
    for a in w.candidates(_recent):
        group = w.group_open(a.customer_id)
        if len(group) > 14:
            continue
        mine = [
            i for i in w.open_invoices(a.customer_id) if w.free(i) and _recent(i) and i is not a
        ]
        if not mine:
            continue
        chosen = [a, *mine[: w.rng.choice([1, 1, 2])]]
        total = sum(i.open for i in chosen)
        if w.count_equal(group, total) or w.near_above(group, total, a.currency):
            continue
        if w.subset_count(group, total) != 1:
            continue
        c = w.by_id[a.customer_id]
        name, account = w.known_payer(c)
        vd = w.value_date_after(*(i.invoice_date for i in chosen))
        memo = w.plain_memo()
        rows = [w.cash(i, i.open) for i in chosen]
        r = w.receipt(
            "multi_sum_unique", vd, total, a.currency, (name, account), memo, c.customer_id, rows
        )
        r.check = "sum"
        w.mark(*chosen)
        return True
    return False


def _round_step(amount: Decimal, currency: str) -> Decimal:
    if currency == "JPY":
        return Decimal(10000)
    return Decimal(1000) if amount >= 20000 else Decimal(100)


def sc_partial_ref(w: World) -> bool:
    for inv in w.candidates(lambda i: i.open * w_rate(w, i.currency) >= 2000):
        step = _round_step(inv.open, inv.currency)
        part = (inv.open * Decimal(str(w.rng.uniform(0.3, 0.7))) / step).quantize(Decimal(1)) * step
        if part <= 0 or part >= inv.open - BANK_CHARGE_CAP[inv.currency]:
            continue
        if w.count_equal(w.group_open(inv.customer_id), part) or part in keying_variants(
            inv.open, inv.currency
        ):
            continue
        c = w.by_id[inv.customer_id]
        name, account = w.known_payer(c)
        memo = f"{w.ref_text(inv)} {w.rng.choice(PARTIAL_WORDS)}"
        vd = w.value_date_after(inv.invoice_date)
        rows = [w.cash(inv, part)]
        w.receipt("partial_ref", vd, part, inv.currency, (name, account), memo, c.customer_id, rows)
        w.residual[inv.invoice_id] = inv.open - part
        w.mark(inv)
        return True
    return False


def w_rate(w: World, currency: str) -> Decimal:
    return Decimal(1) if currency == BASE else w.rate(PERIOD_END, currency)


def _fee_for(w: World, inv: Invoice) -> Decimal | None:
    fees = [
        Decimal(f) for f in FEES[inv.currency] if Decimal(f) * 100 <= inv.open * BANK_CHARGE_MAX_PCT
    ]
    return w.rng.choice(fees) if fees else None


def _bank_charge(w: World, with_ref: bool) -> bool:
    for inv in w.candidates(None if with_ref else _recent):
        fee = _fee_for(w, inv)
        if fee is None:
            continue
        paid = inv.open - fee
        group = w.group_open(inv.customer_id)
        if w.count_equal(group, paid) or paid in keying_variants(inv.open, inv.currency):
            continue
        if not with_ref and (
            w.near_above(group, paid, inv.currency) != [inv] or w.subset_count(group, paid, 3)
        ):
            continue
        c = w.by_id[inv.customer_id]
        name, account = w.known_payer(c)
        memo = w.ref_memo([w.ref_text(inv)]) if with_ref else w.plain_memo()
        vd = w.value_date_after(inv.invoice_date)
        rows = [w.cash(inv, paid), (inv.invoice_id, "bank_charge", fee, inv.currency, Decimal(0))]
        scenario = "bank_charge_ref" if with_ref else "bank_charge_amount"
        r = w.receipt(scenario, vd, paid, inv.currency, (name, account), memo, c.customer_id, rows)
        r.check = "" if with_ref else f"charge:{inv.invoice_id}"
        w.mark(inv)
        return True
    return False


def sc_bank_charge_ref(w: World) -> bool:
    return _bank_charge(w, True)


def sc_bank_charge_amount(w: World) -> bool:
    return _bank_charge(w, False)


def sc_short_over_cap_ref(w: World) -> bool:
    for inv in w.candidates():
        cap = BANK_CHARGE_CAP[inv.currency]
        short = (cap * Decimal(str(w.rng.uniform(1.5, 4.0)))).quantize(Decimal(1))
        if short % 9 == 0 or short * 5 > inv.open:
            continue
        paid = inv.open - short
        if w.count_equal(w.group_open(inv.customer_id), paid) or paid in keying_variants(
            inv.open, inv.currency
        ):
            continue
        c = w.by_id[inv.customer_id]
        name, account = w.known_payer(c)
        vd = w.value_date_after(inv.invoice_date)
        memo = w.ref_memo([w.ref_text(inv)])
        rows = [w.cash(inv, paid)]
        w.receipt(
            "short_over_cap_ref", vd, paid, inv.currency, (name, account), memo, c.customer_id, rows
        )
        w.residual[inv.invoice_id] = short
        w.mark(inv)
        return True
    return False


def _discount_of(inv: Invoice, rate: Decimal) -> Decimal | None:
    exact = inv.open * rate
    cut = exact.quantize(unit(inv.currency), rounding=ROUND_DOWN)
    if (exact - cut) * 2 == unit(inv.currency):  # a half cent: rounding would be a guess
        return None
    return q(exact, inv.currency)


def _discount(w: World, late: bool) -> bool:
    def fits(inv: Invoice) -> bool:
        c = w.by_id[inv.customer_id]
        if c.discount is None or inv.credit:
            return False
        if late:
            return inv.invoice_date <= dt.date(2026, 9, 18)
        return dt.date(2026, 9, 24) <= inv.invoice_date <= dt.date(2026, 10, 20)

    for inv in w.candidates(fits):
        c = w.by_id[inv.customer_id]
        rate, days = c.discount
        disc = _discount_of(inv, rate)
        if disc is None or disc <= 0:
            continue
        if disc <= BANK_CHARGE_CAP[inv.currency] and disc == disc.to_integral_value():
            continue  # a whole-unit discount under the cap reads as a bank charge
        paid = inv.open - disc
        if w.count_equal(w.group_open(c.customer_id), paid) or paid in keying_variants(
            inv.open, inv.currency
        ):
            continue
        name, account = w.known_payer(c)
        memo = w.ref_memo([w.ref_text(inv)])
        if late:
            vd = w.value_date_after(inv.invoice_date + dt.timedelta(days=days + 4))
            rows = [w.cash(inv, paid)]
            w.residual[inv.invoice_id] = disc
            scenario = "discount_late_ref"
        else:
            last = min(PERIOD_END, inv.invoice_date + dt.timedelta(days=days))
            if last < PERIOD_START:
                continue
            vd = w.value_date_after(inv.invoice_date, latest=last)
            if vd > last:
                continue
            rows = [w.cash(inv, paid), (inv.invoice_id, "discount", disc, inv.currency, Decimal(0))]
            scenario = "discount_in_terms"
        w.receipt(scenario, vd, paid, inv.currency, (name, account), memo, c.customer_id, rows)
        w.mark(inv)
        return True
    return False


def sc_discount_in_terms(w: World) -> bool:
    return _discount(w, False)


def sc_discount_late_ref(w: World) -> bool:
    return _discount(w, True)


def _fx(w: World, difference: bool) -> bool:
    for inv in w.candidates(lambda i: i.currency in ("USD", "EUR")):
        c = w.by_id[inv.customer_id]
        vd = w.value_date_after(inv.invoice_date)
        rate = w.rate(vd, inv.currency)
        off = Decimal(str(round(w.rng.uniform(0.003, 0.009), 4))) if difference else Decimal(0)
        paid = q(inv.open * rate * (1 - off), BASE)
        converted = paid / rate
        cash = q(converted, inv.currency)
        if abs(converted - cash) > Decimal("0.004"):
            continue  # too near a half cent: which cent is a matter of rounding rules
        if not difference and cash != inv.open:
            continue
        name = w.bank_name(c)
        rows = [(inv.invoice_id, "cash", cash, inv.currency, paid)]
        if difference:
            rows.append(
                (inv.invoice_id, "fx_difference", inv.open - cash, inv.currency, Decimal(0))
            )
        scenario = "fx_difference_ref" if difference else "fx_ref"
        memo = w.ref_memo([w.ref_text(inv)])
        w.receipt(scenario, vd, paid, BASE, (name, ""), memo, c.customer_id, rows)
        w.mark(inv)
        return True
    return False


def sc_fx_ref(w: World) -> bool:
    return _fx(w, False)


def sc_fx_difference_ref(w: World) -> bool:
    return _fx(w, True)


def sc_ref_unknown_payer(w: World) -> bool:
    for inv in w.candidates():
        vd = w.value_date_after(inv.invoice_date)
        memo = w.ref_memo([w.ref_text(inv, full=w.rng.random() < 0.5)])
        rows = [w.cash(inv, inv.open)]
        w.receipt(
            "ref_unknown_payer",
            vd,
            inv.open,
            inv.currency,
            (w.stranger(), ""),
            memo,
            inv.customer_id,
            rows,
        )
        w.mark(inv)
        return True
    return False


def sc_ref_shared_alias(w: World) -> bool:
    shared = _shared_aliases(w)
    for inv in w.candidates():
        c = w.by_id[inv.customer_id]
        aliases = [a for a in c.aliases if a in shared]
        if not aliases:
            continue
        vd = w.value_date_after(inv.invoice_date)
        memo = w.ref_memo([w.ref_text(inv)])
        rows = [w.cash(inv, inv.open)]
        w.receipt(
            "ref_shared_payer_name",
            vd,
            inv.open,
            inv.currency,
            (w.rng.choice(aliases), ""),
            memo,
            c.customer_id,
            rows,
        )
        w.mark(inv)
        return True
    return False


def sc_ref_third_party(w: World) -> bool:
    for inv in w.candidates():
        for _ in range(6):
            y = w.rng.choice(w.customers)
            if w.related(y.customer_id, inv.customer_id):
                continue
            group = w.group_open(y.customer_id)
            if w.count_equal(group, inv.open) or w.near_above(group, inv.open, inv.currency):
                continue
            account = w.rng.choice(y.accounts) if y.accounts and w.rng.random() < 0.5 else ""
            memo = w.rng.choice(["{r}", "代付 {r}", "PAYMENT FOR {r}", "代{r}付款"]).format(
                r=inv.invoice_id
            )
            vd = w.value_date_after(inv.invoice_date)
            rows = [w.cash(inv, inv.open)]
            w.receipt(
                "ref_third_party",
                vd,
                inv.open,
                inv.currency,
                (y.name, account),
                memo,
                inv.customer_id,
                rows,
            )
            w.mark(inv)
            return True
    return False


def sc_ref_parent_pays(w: World) -> bool:
    for inv in w.candidates(lambda i: w.by_id[i.customer_id].parent_id is not None):
        parent = w.by_id[w.by_id[inv.customer_id].parent_id]
        if w.count_equal(w.open_invoices(parent.customer_id), inv.open):
            continue
        name, account = w.known_payer(parent)
        vd = w.value_date_after(inv.invoice_date)
        memo = w.ref_memo([w.ref_text(inv)])
        rows = [w.cash(inv, inv.open)]
        w.receipt(
            "ref_parent_pays",
            vd,
            inv.open,
            inv.currency,
            (name, account),
            memo,
            inv.customer_id,
            rows,
        )
        w.mark(inv)
        return True
    return False


def _one_digit_off(number: int) -> list[int]:
    text = str(number)
    out = []
    for i in range(len(text)):
        for d in "0123456789":
            if d != text[i] and not (i == 0 and d == "0"):
                out.append(int(text[:i] + d + text[i + 1 :]))
        if i + 1 < len(text) and text[i] != text[i + 1]:
            out.append(int(text[:i] + text[i + 1] + text[i] + text[i + 2 :]))
    return out


def sc_mistyped_ref_own_amount(w: World) -> bool:
    for inv in w.candidates(_recent):
        if not _unique_in_group(w, inv):
            continue
        options = [w.by_number[n] for n in _one_digit_off(inv.number) if n in w.by_number]
        options = [j for j in options if w.free(j) and j.open != inv.open]
        if not options:
            continue
        j = w.rng.choice(options)
        c = w.by_id[inv.customer_id]
        name, account = w.known_payer(c, account_share=0.35)
        vd = w.value_date_after(inv.invoice_date)
        memo = w.ref_memo([w.ref_text(j)])
        rows = [w.cash(inv, inv.open)]
        r = w.receipt(
            "mistyped_ref_own_amount",
            vd,
            inv.open,
            inv.currency,
            (name, account),
            memo,
            c.customer_id,
            rows,
        )
        r.check = "amount"
        w.mark(inv, j)
        return True
    return False


def sc_fuzzy_payer_ref(w: World) -> bool:
    for inv in w.candidates():
        c = w.by_id[inv.customer_id]
        noisy = w.fuzzy_name(c)
        if noisy is None:
            continue
        vd = w.value_date_after(inv.invoice_date)
        memo = w.ref_memo([w.ref_text(inv)])
        rows = [w.cash(inv, inv.open)]
        w.receipt(
            "fuzzy_payer_ref", vd, inv.open, inv.currency, (noisy, ""), memo, c.customer_id, rows
        )
        w.mark(inv)
        return True
    return False


def sc_fuzzy_payer_amount(w: World) -> bool:
    for inv in w.candidates(_recent):
        if not _unique_in_group(w, inv):
            continue
        c = w.by_id[inv.customer_id]
        noisy = w.fuzzy_name(c)
        if noisy is None:
            continue
        vd = w.value_date_after(inv.invoice_date)
        memo = w.plain_memo()
        rows = [w.cash(inv, inv.open)]
        r = w.receipt(
            "fuzzy_payer_amount", vd, inv.open, inv.currency, (noisy, ""), memo, c.customer_id, rows
        )
        r.check = "amount"
        w.mark(inv)
        return True
    return False


def sc_empty_payer_memo_name(w: World) -> bool:
    for inv in w.candidates(_recent):
        if not _unique_in_group(w, inv):
            continue
        c = w.by_id[inv.customer_id]
        if c.lang == "zh":
            memo = w.rng.choice(["{n}", "{n} 货款", "付款人:{n}", "{n}支付货款"]).format(n=c.name)
        else:
            memo = w.rng.choice(["PAYMENT FROM {n}", "{n}", "BY ORDER OF {n}"]).format(
                n=c.name.upper()
            )
        vd = w.value_date_after(inv.invoice_date)
        rows = [w.cash(inv, inv.open)]
        r = w.receipt(
            "empty_payer_memo_name", vd, inv.open, inv.currency, ("", ""), memo, c.customer_id, rows
        )
        r.check = "amount"
        w.mark(inv)
        return True
    return False


def sc_unidentified(w: World) -> bool:
    for _ in range(50):
        currency = w.rng.choices(["CNY", "USD", "HKD"], [0.8, 0.12, 0.08])[0]
        amount = w.rand_amount(currency)
        if _global_count(w, amount, currency):
            continue
        near = [
            inv
            for inv in w.invoices
            if inv.currency == currency and amount <= inv.open <= amount + BANK_CHARGE_CAP[currency]
        ]
        if near:
            continue
        payer = w.stranger() if w.rng.random() < 0.7 else ""
        vd = w.value_date_after(PERIOD_START)
        w.add(Receipt(vd, amount, currency, payer, "", w.plain_memo(), "unidentified", "hold"))
        return True
    return False


# (builder, receipts per 3,000 invoices), in the order they are built: credit notes and
# the near misses that set two amounts equal first, then the holds that reserve invoices,
# then the cases a clerk applies, whose uniqueness is checked against the final amounts.
PLAN = [
    (sc_credit_background, 30),
    (sc_credit_note_net, 20),
    (sc_multi_sum_ambiguous, 12),
    (sc_fuzzy_ambiguous, 25),
    (sc_empty_payer_alias_ambiguous, 12),
    (sc_shared_alias_amount_ambiguous, 12),
    (sc_unknown_payer_amount_only, 20),
    *[(make_keying(kind), 12) for kind in KEYING_KINDS],
    (sc_mistyped_ref_other_customer, 30),
    (sc_duplicate, 25),
    (sc_mistyped_ref_own_amount, 40),
    (sc_old_overdue_amount, 30),
    (sc_multi_sum, 35),
    (sc_bank_charge_amount, 15),
    (sc_fuzzy_payer_amount, 45),
    (sc_empty_payer_memo_name, 40),
    (sc_amount_only, 110),
    (sc_discount_in_terms, 30),
    (sc_discount_late_ref, 10),
    (sc_fx_ref, 25),
    (sc_fx_difference_ref, 15),
    (sc_ref_unknown_payer, 40),
    (sc_ref_shared_alias, 35),
    (sc_ref_third_party, 30),
    (sc_ref_parent_pays, 20),
    (sc_fuzzy_payer_ref, 45),
    (sc_multi_ref, 45),
    (sc_partial_ref, 40),
    (sc_bank_charge_ref, 45),
    (sc_short_over_cap_ref, 12),
    (sc_ref_exact, 170),
    (sc_unidentified, 40),
]


# ---------------------------------------------------------------------- final checks
def recheck(w: World) -> list[Receipt]:
    """Re-check every case whose truth rests on uniqueness against the world as it ended
    (partial payments leave residual open amounts); a case that no longer holds is
    dropped, with its duplicate twin."""
    w.__dict__.pop("_open_index", None)
    dropped: set[str] = set()
    kept = []
    for r in w.receipts:
        ok = True
        if r.check == "amount":
            inv = w.inv_by_id[r.rows[0][0]]
            ok = w.count_equal(w.group_open(inv.customer_id), r.amount) == 1
        elif r.check == "sum":
            group = w.group_open(r.customer_id)
            ok = (
                w.count_equal(group, r.amount) == 0
                and not w.near_above(group, r.amount, r.currency)
                and w.subset_count(group, r.amount) == 1
            )
        elif r.check.startswith("charge:"):
            target = r.check.split(":")[1]
            group = w.group_open(r.customer_id)
            near = w.near_above(group, r.amount, r.currency)
            ok = w.count_equal(group, r.amount) == 0 and [i.invoice_id for i in near] == [target]
        elif r.check.startswith("clear:"):
            customer_id = r.check.split(":")[1]
            group = w.group_open(customer_id)
            ok = w.count_equal(group, r.amount) == 0 and not w.near_above(
                group, r.amount, r.currency
            )
        if not ok:
            dropped.add(r.group or id(r))
    for r in w.receipts:
        if (r.group or id(r)) not in dropped:
            kept.append(r)
    return kept


# ---------------------------------------------------------------------- driver
def build(seed: int, n_customers: int, n_invoices: int) -> World:
    w = World(seed, n_customers, n_invoices)
    w.make_customers()
    w.make_invoices()
    w.make_rates()
    scale = n_invoices / 3000
    for builder, per_3000 in PLAN:
        wanted = max(1, round(per_3000 * scale))
        for _ in range(wanted):
            if not builder(w):
                break
        if builder in (sc_credit_background, sc_credit_note_net):
            w.__dict__.pop("_open_index", None)
    w.receipts = recheck(w)
    order = sorted(range(len(w.receipts)), key=lambda i: (w.receipts[i].value_date, w.rng.random()))
    w.receipts = [w.receipts[i] for i in order]
    per_day: Counter = Counter()
    for r in w.receipts:
        per_day[r.value_date] += 1
        r.receipt_id = f"YH{r.value_date:%y%m%d}{per_day[r.value_date]:04d}"
        r.bank_ref = "FT" + "".join(w.rng.choice("0123456789") for _ in range(14))
    return w


BANK_HEADERS = {
    "凭证号": "receipt_id",
    "交易日期": "value_date",
    "金额": "amount",
    "货币": "currency",
    "付款人": "payer_name",
    "付款人账户": "payer_account",
    "摘要": "memo",
    "Bank Ref No.": "bank_ref",
}
INVOICE_HEADERS = {"单据编号": "invoice_id"}
TRUTH_COLUMNS = [
    "receipt_id",
    "scenario",
    "expected",
    "customer_id",
    "invoice_id",
    "kind",
    "applied_amount",
    "currency",
    "receipt_amount",
    "receipt_currency",
    "receipt_total",
    "group",
    "note",
]


def _write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def write(w: World, out: Path, blank_payer: str = "") -> dict:
    data = out / "data" / PERIOD
    _write_csv(
        data / "customers.csv",
        [
            "customer_id",
            "name",
            "aliases",
            "payer_accounts",
            "payment_terms_days",
            "parent_id",
            "discount_terms",
            "language",
        ],
        [
            [
                c.customer_id,
                c.name,
                "|".join(c.aliases),
                "|".join(c.accounts),
                c.terms_days,
                c.parent_id or "",
                c.discount_terms,
                c.lang,
            ]
            for c in w.customers
        ],
    )
    _write_csv(
        data / "invoices.csv",
        [
            "单据编号",
            "customer_id",
            "invoice_date",
            "due_date",
            "amount",
            "currency",
            "description",
        ],
        [
            [
                i.invoice_id,
                i.customer_id,
                i.invoice_date.isoformat(),
                i.due_date.isoformat(),
                money_text(i.amount, i.currency),
                i.currency,
                "货物销售",
            ]
            for i in w.invoices
        ],
    )
    _write_csv(
        data / "银行流水.csv",
        list(BANK_HEADERS),
        [
            [
                r.receipt_id,
                f"{r.value_date:%Y/%m/%d}",
                money_text(r.amount, r.currency, grouped=True),
                r.currency,
                r.payer_name or blank_payer,
                r.payer_account,
                r.memo,
                r.bank_ref,
            ]
            for r in w.receipts
        ],
    )
    columns = ["credit_id", "customer_id", "date", "amount", "currency", "invoice_id", "reason"]
    _write_csv(
        data / "credit_notes.csv", columns, [[n[c] for c in columns] for n in w.credit_notes]
    )
    _write_csv(
        data / "fx_rates.csv",
        ["date", "currency", "rate"],
        [[d.isoformat(), cur, str(rate)] for (d, cur), rate in sorted(w.rates.items())],
    )
    truth = []
    for r in w.receipts:
        base = [r.receipt_id, r.scenario, r.expected, r.customer_id]
        tail = [r.currency, money_text(r.amount, r.currency), r.group, r.note]
        if not r.rows:
            truth.append([*base, "", "", "", "", "", *tail])
        for invoice_id, kind, applied, currency, consumed in r.rows:
            truth.append(
                [
                    *base,
                    invoice_id,
                    kind,
                    money_text(applied, currency),
                    currency,
                    money_text(consumed, r.currency),
                    *tail,
                ]
            )
    _write_csv(out / "truth.csv", TRUTH_COLUMNS, truth)
    params = out / "params" / f"{PERIOD}.yaml"
    params.parent.mkdir(parents=True, exist_ok=True)
    params.write_text(params_yaml(w), encoding="utf-8")
    summary = {
        "seed": w.seed,
        "period": PERIOD,
        "customers": len(w.customers),
        "invoices": len(w.invoices),
        "receipts": len(w.receipts),
        "credit_notes": len(w.credit_notes),
        "scenarios": dict(sorted(Counter(r.scenario for r in w.receipts).items())),
        "params": str(params.relative_to(out)),
        "blank_payer": blank_payer,
    }
    (out / "world.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2), "utf-8")
    return summary


def params_yaml(w: World) -> str:
    def mapping(pairs: dict[str, str]) -> str:
        return "\n".join(f"    {json.dumps(k, ensure_ascii=False)}: {v}" for k, v in pairs.items())

    caps = ", ".join(f"{c}: '{v}'" for c, v in BANK_CHARGE_CAP.items())
    return f"""# Independent test world (benchmarks/worldgen.py, seed {w.seed}): not arlib's sample.
entity: INDEP
period: {PERIOD}
base_currency: {BASE}
inputs:
  invoices: data/{PERIOD}/invoices.csv
  receipts: data/{PERIOD}/银行流水.csv
  customers: data/{PERIOD}/customers.csv
  credit_notes: data/{PERIOD}/credit_notes.csv
  fx_rates: data/{PERIOD}/fx_rates.csv
columns:
  receipts:
{mapping(BANK_HEADERS)}
  invoices:
{mapping(INVOICE_HEADERS)}
matching:
  bank_charge_max: {{{caps}, '*': '0'}}
  bank_charge_max_pct: '{BANK_CHARGE_MAX_PCT}'
out_dir: outputs/{PERIOD}
"""


def generate(
    out_dir, seed: int = 101, n_customers: int = 400, n_invoices: int = 3000, blank_payer: str = ""
) -> dict:
    """Write one period of this world into ``out_dir`` (see the module docstring).

    ``blank_payer`` is what a bank line without a payer name carries in the file: nothing
    by default (DESIGN.md: payer_name may be empty); a placeholder such as ``-`` only to
    measure matching on a loader that refuses empty payer names.
    """
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()) and not (out / "world.json").exists():
        raise FileExistsError(f"{out} holds other files: give an empty or new folder")
    out.mkdir(parents=True, exist_ok=True)
    return write(build(seed, n_customers, n_invoices), out, blank_payer)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--seed", type=int, default=101)
    parser.add_argument("--customers", type=int, default=400)
    parser.add_argument("--invoices", type=int, default=3000)
    parser.add_argument(
        "--blank-payer",
        default="",
        help="what a bank line without payer name carries (default: nothing)",
    )
    args = parser.parse_args(argv)
    summary = generate(args.out, args.seed, args.customers, args.invoices, args.blank_payer)
    print(json.dumps(summary, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
