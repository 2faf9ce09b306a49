"""The cascade: every rule of the matching engine, in the order ``match()`` walks them.

Each rule is one module with its declaration (:class:`arlib.match.cascade.Rule`); adding a
rule is one module and one line here. ``arlib rules`` prints this list.
"""

from __future__ import annotations

from arlib.match.cascade import Rule
from arlib.match.config import MatchConfig
from arlib.match.rules import (
    balance_forward,
    candidates,
    combined,
    credit_note,
    duplicates,
    exact_amount,
    instalment,
    manual,
    on_account,
    partial,
    reference,
    suggestions,
    unnamed_credit,
)

CASCADE: tuple[Rule, ...] = (
    credit_note.RULE,
    manual.RULE,
    # after people's decisions, before any tolerance or partial payment: credit notes that
    # make the receipt an exact payment explain its shortfall best (see its docstring)
    unnamed_credit.RULE,
    *reference.RULES,
    duplicates.AFTER_REFERENCE,
    exact_amount.RULES[0],
    candidates.RULE,
    duplicates.AFTER_EXACT,
    *exact_amount.RULES[1:],
    combined.RULE,
    partial.RULE,
    *instalment.RULES,
    on_account.RULE,
    balance_forward.RULE,
    suggestions.RULE,
)


def describe(cfg: MatchConfig, cascade: tuple[Rule, ...] = CASCADE) -> str:
    """The cascade in order, as ``arlib rules`` prints it: per rule its id, whether its
    switch is on, what it does, the receipts it looks at, its sub-rules with their
    confidence and the effective value of each setting it reads."""
    lines = [f"{len(cascade)} rules, walked in this order (matching.rules: {list(cfg.rules)})"]
    for n, rule in enumerate(cascade, 1):
        if rule.switch is None:
            state = "always on"
        else:
            state = f"switch {rule.switch}: {'on' if rule.switch in cfg.rules else 'OFF'}"
        lines.append(f"\n{n:2d}. {rule.id}  [{state}]")
        lines.append(f"    {rule.description}")
        if rule.receipts is not None:
            lines.append(f"    looks at: {rule.receipts.describe()}")
        if rule.confidence:
            subs = ", ".join(f"{k} {v:g}" for k, v in rule.confidence.items())
            factor = " (x the payer's fuzzy score)" if rule.payer_factor else ""
            lines.append(f"    sub-rules and confidence{factor}: {subs}")
        for name in rule.settings:
            lines.append(f"    {name} = {_shown(getattr(cfg, name))}")
    return "\n".join(lines) + "\n"


def _shown(value: object) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    if isinstance(value, tuple):
        return ", ".join(map(str, value)) if value else "(none)"
    return str(value)
