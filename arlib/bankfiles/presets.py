"""Named header mappings for bank CSV/XLSX exports, so a user names a preset instead of
mapping every column.

Each field lists the header texts that mean it, compared after NFKC normalisation with
spaces and bracketed notes removed (``贷方发生额（收入）`` matches ``贷方发生额``). The first
listed header present in the file wins. Fields:

* ``date`` (required), ``credit`` / ``debit`` (two unsigned columns: 贷方 = credit = money in,
  a receipt for the account holder; 借方 = debit = money out) **or** ``amount`` (signed),
  optionally with ``direction`` (a column saying 借/贷, D/C) and ``direction_credit`` values;
* ``payer_name`` (对方户名), ``payer_account`` (对方账号), ``memo`` (all present columns are
  joined: 摘要, 附言, 用途, 备注 ...), ``bank_ref`` (流水号), ``currency``, ``balance`` (余额).

The header texts per bank follow the layouts of their corporate online-banking "交易明细"
exports as commonly seen; banks change them, so ``generic_cn`` accepts all of them and
read_statement picks the preset matching most headers when none is named.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    fields: dict[str, tuple[str, ...]]
    currency: str | None = None  # default when neither a column nor the title rows say
    dayfirst: bool = False
    direction_credit: tuple[str, ...] = ("贷", "C", "CR", "CRDT", "收", "收入", "CREDIT")
    # label of a totals row, matched at the start of its first cells or its date cell; such a
    # row is a totals row only without a date and a transaction id, and every amount it
    # states is checked as a control total (see arlib.bankfiles.bank_csv)
    total_markers: tuple[str, ...] = field(
        default=(
            "合计",
            "总计",
            "本页合计",
            "本期合计",
            "本月合计",
            "本日合计",
            "小计",
            "累计",
            "TOTAL",
            "SUBTOTAL",
        )
    )


_MEMO = ("摘要", "附言", "用途", "备注", "交易附言", "交易用途", "摘要/附言", "交易摘要", "说明")
_NAME = (
    "对方户名",
    "对方单位名称",
    "对方名称",
    "对方账户名称",
    "对方账户名",
    "收(付)方名称",
    "收付方名称",
    "对方单位",
    "付款人名称",
    "交易对手名称",
)
_ACCT = (
    "对方账号",
    "对方账户",
    "收(付)方账号",
    "收付方账号",
    "对方卡号",
    "付款人账号",
    "交易对手账号",
)
_REF = ("流水号", "交易流水号", "凭证号", "交易序号", "业务流水号", "交易参考号", "柜员流水号")
_DATE = ("交易日期", "记账日期", "交易时间", "交易日", "入账日期", "日期")

PRESETS: dict[str, Preset] = {
    "icbc": Preset(
        "icbc",
        "工商银行 ICBC: 交易日期, 借方发生额, 贷方发生额, 余额, 对方单位名称, 对方账号, 摘要, "
        "用途, 交易流水号",
        {
            "date": ("交易日期", "交易时间"),
            "debit": ("借方发生额", "借方金额"),
            "credit": ("贷方发生额", "贷方金额"),
            "payer_name": ("对方单位名称", "对方户名"),
            "payer_account": ("对方账号",),
            "memo": ("摘要", "用途", "附言", "备注"),
            "bank_ref": ("交易流水号", "流水号", "凭证号"),
            "balance": ("余额",),
            "currency": ("币种",),
        },
        currency="CNY",
    ),
    "ccb": Preset(
        "ccb",
        "建设银行 CCB: 交易时间, 借方发生额（支取）, 贷方发生额（收入）, 余额, 对方户名, "
        "对方账号, 摘要, 备注, 账户明细编号-交易流水号",
        {
            "date": ("交易时间", "交易日期", "记账日期"),
            "debit": ("借方发生额", "支取"),
            "credit": ("贷方发生额", "收入"),
            "payer_name": ("对方户名",),
            "payer_account": ("对方账号",),
            "memo": ("摘要", "备注", "用途"),
            "bank_ref": ("账户明细编号-交易流水号", "交易流水号", "流水号"),
            "balance": ("余额", "账户余额"),
            "currency": ("币种",),
        },
        currency="CNY",
    ),
    "boc": Preset(
        "boc",
        "中国银行 BOC: 交易日期, 交易金额 (signed) or 收入金额/支出金额, 交易后余额, "
        "付款人名称/收款人名称 as 对方户名, 对方账号, 摘要, 附言, 交易流水号",
        {
            "date": ("交易日期", "记账日期"),
            "credit": ("收入金额", "贷方金额"),
            "debit": ("支出金额", "借方金额"),
            "amount": ("交易金额",),
            "payer_name": ("对方户名", "付款人名称", "对方账户名称"),
            "payer_account": ("对方账号", "付款人账号"),
            "memo": ("摘要", "附言", "用途"),
            "bank_ref": ("交易流水号", "流水号"),
            "balance": ("交易后余额", "余额"),
            "currency": ("币种", "交易货币"),
        },
        currency="CNY",
    ),
    "abc": Preset(
        "abc",
        "农业银行 ABC: 交易日期, 收入金额, 支出金额, 账户余额, 对方户名, 对方账号, 摘要, "
        "交易用途, 流水号",
        {
            "date": ("交易日期", "交易时间"),
            "credit": ("收入金额", "贷方发生额"),
            "debit": ("支出金额", "借方发生额"),
            "payer_name": ("对方户名",),
            "payer_account": ("对方账号",),
            "memo": ("摘要", "交易用途", "用途", "附言"),
            "bank_ref": ("流水号", "交易流水号"),
            "balance": ("账户余额", "余额"),
            "currency": ("币种",),
        },
        currency="CNY",
    ),
    "cmb": Preset(
        "cmb",
        "招商银行 CMB: 交易日, 借方金额, 贷方金额, 余额, 收(付)方名称, 收(付)方账号, 摘要, "
        "用途, 流水号",
        {
            "date": ("交易日", "交易日期"),
            "debit": ("借方金额",),
            "credit": ("贷方金额",),
            "payer_name": ("收(付)方名称", "对方户名"),
            "payer_account": ("收(付)方账号", "对方账号"),
            "memo": ("摘要", "用途", "附言"),
            "bank_ref": ("流水号", "交易流水号"),
            "balance": ("余额",),
            "currency": ("币种",),
        },
        currency="CNY",
    ),
    "generic_cn": Preset(
        "generic_cn",
        "any Chinese bank export: 交易日期/记账日期/交易时间, 借方/贷方 (or 收入/支出, or a signed "
        "交易金额 with 借贷标志), 对方户名, 对方账号, 摘要/附言/用途/备注, 流水号, 余额, 币种",
        {
            "date": _DATE,
            "debit": ("借方发生额", "借方金额", "借方", "支出金额", "支出", "付款金额"),
            "credit": ("贷方发生额", "贷方金额", "贷方", "收入金额", "收入", "收款金额"),
            "amount": ("交易金额", "发生额", "金额"),
            "direction": ("借贷标志", "借贷方向", "收支方向", "借/贷"),
            "payer_name": _NAME,
            "payer_account": _ACCT,
            "memo": _MEMO,
            "bank_ref": _REF,
            "balance": ("余额", "账户余额", "交易后余额"),
            "currency": ("币种", "货币", "交易货币"),
        },
        currency="CNY",
    ),
    "generic": Preset(
        "generic",
        "English signed-amount export: Date, Amount (signed; or Debit/Credit columns, or "
        "Amount with a D/C column), Currency, Partner Name/Payer/Counterparty, Bank "
        "Account/Account, Label/Description/Memo/Reference text, Reference/Transaction ID, "
        "Balance. Dates month-first unless a value proves otherwise.",
        {
            "date": ("date", "value date", "booking date", "transaction date", "posting date"),
            "amount": ("amount", "transaction amount"),
            "debit": ("debit", "withdrawal", "money out"),
            "credit": ("credit", "deposit", "money in"),
            "direction": ("d/c", "dc", "debit/credit", "cr/dr"),
            "payer_name": ("partner name", "payer", "payer name", "counterparty", "name", "payee"),
            "payer_account": ("bank account", "account", "counterparty account", "iban"),
            "memo": (
                "label",
                "description",
                "memo",
                "details",
                "detail",
                "narrative",
                "remittance",
            ),
            "bank_ref": ("reference", "transaction id", "operation number", "ref", "id"),
            "currency": ("currency",),
            "balance": ("balance",),
        },
    ),
}
