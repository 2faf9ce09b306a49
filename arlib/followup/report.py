"""The follow-up as people read it: notebook 05's sentences and chart, the workpaper tabs.

Rendering only: every figure here is one of :class:`arlib.followup.FollowUp`'s tables,
counted or summed, never computed anew.
"""

from __future__ import annotations

import polars as pl

from arlib.followup import FollowUp
from arlib.followup import disputes as dp
from arlib.followup.tasks import TASK_KINDS, tasks_per_collector
from arlib.money import fmt_money

KIND_WORDS = {
    "broken_promise": "broken promise",
    "dispute": "dispute",
    "overdue": "overdue tier",
    "reply": "reply overdue",
}


def _amounts(frame: pl.DataFrame, column: str = "amount") -> str:
    """``CNY 50,000.00, USD 20.00``: a money column summed per currency, never across."""
    sums = (
        frame.filter(pl.col(column).is_not_null())
        .group_by("currency")
        .agg(pl.col(column).sum())
        .sort("currency")
    )
    return ", ".join(f"{c} {fmt_money(a)}" for c, a in sums.iter_rows()) or "nothing"


def replies_prose(fu: FollowUp, period: str) -> str:
    statements = fu.statements.unique("statement_no", keep="first")
    mine = statements.filter(pl.col("period") == period).height
    counts = dict(statements.group_by("status").len().iter_rows())
    confirmed = fu.confirmations
    return (
        f"{statements.height:,} statements are on record ({mine:,} issued by this close, "
        f"numbered `<period>-<customer_id>`): {counts.get('confirmed', 0):,} confirmed, "
        f"{counts.get('disputed', 0):,} answered with differences, "
        f"{counts.get('awaiting', 0):,} awaiting a reply and "
        f"{counts.get('superseded', 0):,} superseded by a later statement without one. "
        f"The confirmation register holds {confirmed.height:,} confirmed balance(s), "
        f"{_amounts(confirmed, 'confirmed_balance')} in all."
    )


def disputes_prose(fu: FollowUp, as_of) -> str:
    unresolved = dp.open_disputes(fu.disputes, as_of)
    if fu.disputes.height == 0:
        return "No customer has disputed an item: there is no dispute on record."
    oldest = unresolved["age_days"].max() if unresolved.height else None
    owners = unresolved["owner"].n_unique()
    return (
        f"{fu.disputes.height:,} dispute(s) on record, {unresolved.height:,} not yet resolved "
        f"({_amounts(unresolved)}), held by {owners:,} owner(s)"
        + (f", the oldest {oldest:,} days since the reply that opened it" if oldest else "")
        + f"; {int((fu.disputes['status'] == 'resolved').sum()):,} resolved. "
        "The invoices under an unresolved dispute are left out of the collection letters. "
        f"The history holds {fu.history.height:,} status change(s) and notes."
    )


def promises_prose(fu: FollowUp) -> str:
    p = fu.promises
    if p.height == 0:
        return "No promise to pay is in the contact log."
    counts = dict(p.group_by("promise_status").len().iter_rows())
    broken = p.filter(pl.col("promise_status") == "broken")
    return (
        f"The contact log holds {fu.contacts.height:,} contact(s) and {p.height:,} promise(s) "
        f"to pay: {counts.get('kept', 0):,} kept, {counts.get('broken', 0):,} broken "
        f"(short by {_amounts(broken, 'short')}) and {counts.get('pending', 0):,} not yet "
        "due. A promise is kept when the receipts identified as the customer's, in its "
        "currency, from the day it was made, reach the amount to the cent; broken when its "
        "date has passed with less."
    )


def tasks_prose(fu: FollowUp) -> str:
    t = fu.tasks
    if t.height == 0:
        return "No collection task is open."
    counts = dict(t.group_by("kind").len().iter_rows())
    kinds = ", ".join(f"{counts[k]:,} {KIND_WORDS[k]}" for k in TASK_KINDS if k in counts)
    return (
        f"{t.height:,} task(s) for {t['collector'].n_unique():,} collector(s): {kinds}. "
        "Each lists the next action and its due date, the most urgent first (a broken "
        "promise, then a dispute, an overdue tier, a reply overdue)."
    )


def record_followup(fu: FollowUp, as_of) -> None:
    from arlib.notebook import record

    record("followup", fu.summary(as_of))


def tasks_chart(fu: FollowUp):
    """Tasks per collector, stacked by kind: who carries the follow-up."""
    from arlib.charts import BLUE, GREEN, GREY, RED, _done, _figure

    table = tasks_per_collector(fu.tasks)
    plt, fig, axes = _figure(1, height=max(2.2, 0.5 * table.height + 1.2))
    axis = axes[0]
    left = [0] * table.height
    colours = dict(zip(TASK_KINDS, (RED, BLUE, GREY, GREEN), strict=True))
    for kind in TASK_KINDS:
        values = table[kind].to_list()
        axis.barh(table["collector"].to_list(), values, left=left, color=colours[kind],
                  label=KIND_WORDS[kind])  # fmt: skip
        left = [a + b for a, b in zip(left, values, strict=True)]
    from matplotlib.ticker import MaxNLocator

    axis.invert_yaxis()
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.set_xlabel("tasks")
    axis.set_title("Collection tasks per collector")
    axis.legend(loc="lower right", fontsize="small")
    return _done(plt, fig)


def sheets(fu: FollowUp, as_of) -> list:
    """The workpaper tabs of the follow-up (AR-12 …)."""
    from arlib.workpapers import Sheet

    aged = dp.open_disputes(fu.disputes, as_of)
    return [
        Sheet(
            "AR-12",
            "Disputes",
            "Customer disputes not yet resolved (争议处理工单), oldest first, with owner",
            aged.drop("source_file", "source_row"),
            total_columns=("amount",),
            total_by="currency",
        ),
        Sheet(
            "AR-12.1",
            "Disputes by owner",
            "Unresolved disputes per owner and age band (days since opened)",
            dp.by_owner(fu.disputes, as_of),
            total_columns=("amount",),
            total_by="currency",
        ),
        Sheet(
            "AR-12.2",
            "Dispute history",
            "Every status change of every dispute, with date, close, by whom and why",
            fu.history,
        ),
        Sheet(
            "AR-13",
            "Statement replies",
            "Statements issued and their replies: confirmed, disputed, awaiting, superseded",
            fu.statements,
        ),
        Sheet(
            "AR-13.1",
            "Confirmations",
            "Confirmation register: customer, statement, date, confirmed balance",
            fu.confirmations,
        ),
        Sheet(
            "AR-14",
            "Promises to pay",
            "Promises in the contact log: kept, broken (highlighted), pending",
            fu.promises,
            highlight="broken",
        ),
        Sheet(
            "AR-15",
            "Collection tasks",
            "Tasks per collector, most urgent first, with next action and due date",
            fu.tasks.with_columns((pl.col("priority") == 1).alias("urgent")),
            highlight="urgent",
        ),
        Sheet(
            "AR-15.1",
            "Tasks per collector",
            "How many tasks each collector has, of each kind, and the first due date",
            tasks_per_collector(fu.tasks),
        ),
    ]
