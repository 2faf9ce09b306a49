"""Time payer resolution at scale: many customers whose names share stems, many distinct payers.

Usage::

    .venv/bin/python benchmarks/payers_scale.py                       # 60,000 x 100,000
    .venv/bin/python benchmarks/payers_scale.py --customers 20000 --payers 30000
    PYTHONPATH=<other checkout> .venv/bin/python benchmarks/payers_scale.py   # another engine

The customers are what makes fuzzy matching expensive: Chinese names built from a city (a
regional customer master: a third in 上海, the next three cities a third together), a
two-character trade name, an industry and a company suffix (上海华润五金贸易有限公司,
北京华润五金贸易有限公司: one trade name in several cities, so names share most of their
characters and a blocking key such as the first character puts thousands in one block),
plus a fifth in English (``Shenzhen Brightway Electronics Co., Ltd.``). Each customer has
its short trade name as an alias, shared across its cities.

The payers are distinct bank spellings, in fixed shares: the master name or its alias
(resolved by a join), a typo (one character replaced), a doubled or dropped character, the
city dropped (a name several customers share), the name glued to other text
(``...有限公司往来款``, ``TRF/...``), English words reordered or upper-cased, a truncated
field, and names of nobody in master data (people, unknown companies built from the same
stems). Only the unresolved distinct names reach the fuzzy stage.

Printed: the time of :func:`arlib.payers.resolve_payers` (best of ``--repeat`` runs; wall
and CPU time of all threads, the steadier figure on a shared machine), the
methods it returned, and per kind of spelling how often the true customer was found (resolved
to it, or among the candidates) and how often another customer was resolved (wrong). The
exit code is always 0 (a measurement).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import polars as pl

from arlib.payers import resolve_payers

CITIES = [
    ("上海", "Shanghai"), ("北京", "Beijing"), ("深圳", "Shenzhen"), ("广州", "Guangzhou"),
    ("杭州", "Hangzhou"), ("南京", "Nanjing"), ("苏州", "Suzhou"), ("无锡", "Wuxi"),
    ("厦门", "Xiamen"), ("青岛", "Qingdao"), ("天津", "Tianjin"), ("重庆", "Chongqing"),
    ("成都", "Chengdu"), ("武汉", "Wuhan"), ("长沙", "Changsha"), ("郑州", "Zhengzhou"),
    ("宁波", "Ningbo"), ("佛山", "Foshan"), ("东莞", "Dongguan"), ("合肥", "Hefei"),
    ("济南", "Jinan"), ("福州", "Fuzhou"), ("西安", "Xian"), ("昆明", "Kunming"),
]  # fmt: skip


def city_weights(top: float) -> np.ndarray:
    """The first city's share ``top``; the rest shared 10 : 8 : 6 : 2 : 2 : ..."""
    rest = np.array([10, 8, 6] + [2] * (len(CITIES) - 4), dtype=float)
    return np.concatenate([[top], (1 - top) * rest / rest.sum()])


CITY_WEIGHTS = city_weights(0.3)
CORE_CHARS = list(
    "华润恒信鑫源嘉禾博远永利德隆明珠金泰宏达盛世天成瑞丰长城海通新星东方正大富源中联建业"
)
INDUSTRIES = [
    "五金贸易", "电子科技", "建材", "食品", "化工", "机械设备", "医药", "纺织", "物流",
    "家电贸易", "包装材料", "塑料制品", "汽车配件", "服装", "印刷", "环保科技",
]  # fmt: skip
SUFFIXES = ["有限公司", "有限责任公司", "股份有限公司", "贸易有限公司"]
EN_WORDS = [
    "Brightway", "Sunrise", "Northwind", "Silver", "Oak", "Ridge", "Pacific", "Coral", "Red",
    "Maple", "Iron", "Wood", "Vertex", "Harbor", "Golden", "Summit", "Blue", "River", "Star",
    "Eagle", "Lotus", "Jade", "Pearl", "Crown", "Delta", "Atlas", "Nova", "Zenith", "Apex",
]  # fmt: skip
EN_INDUSTRIES = [
    "Electronics", "Textiles", "Foods", "Trading", "Chemicals", "Machinery", "Packaging",
    "Logistics", "Optics", "Plastics", "Materials", "Industries",
]  # fmt: skip
EN_SUFFIXES = ["Co., Ltd.", "Ltd", "Inc.", "Pte. Ltd.", "GmbH", "LLC"]
SIMILAR = dict(
    zip("华润恒信鑫源嘉禾博远永利德隆明珠", "毕闰垣倍鑫原喜和搏沅泳莉徳龙朋殊", strict=True)
)


def customers(rng: np.random.Generator, n: int) -> tuple[pl.DataFrame, list[dict]]:
    """``n`` customers with unique names (4/5 Chinese, stems shared across cities)."""
    rows, seen = [], set()
    n_zh = n * 4 // 5
    while len(rows) < n_zh:
        core = "".join(rng.choice(CORE_CHARS, 2, replace=False))
        industry = INDUSTRIES[int(rng.integers(len(INDUSTRIES)))]
        # one trade name in 1-4 cities, the big ones far more often (a customer master is
        # regional: a third of the names start with the same city)
        for c in rng.choice(len(CITIES), int(rng.integers(1, 5)), replace=False, p=CITY_WEIGHTS):
            city = CITIES[int(c)][0]
            name = f"{city}{core}{industry}{SUFFIXES[int(rng.integers(len(SUFFIXES)))]}"
            key = (city, core, industry)
            if key in seen or len(rows) >= n_zh:
                continue
            seen.add(key)
            rows.append(
                {"kind": "zh", "city": city, "core": core, "industry": industry, "name": name}
            )
    while len(rows) < n:
        city = CITIES[int(rng.choice(len(CITIES), p=CITY_WEIGHTS))][1]
        w1, w2 = rng.choice(EN_WORDS, 2, replace=False)
        industry = EN_INDUSTRIES[int(rng.integers(len(EN_INDUSTRIES)))]
        key = (city, w1, w2, industry)
        if key in seen:
            continue
        seen.add(key)
        suffix = EN_SUFFIXES[int(rng.integers(len(EN_SUFFIXES)))]
        rows.append(
            {
                "kind": "en",
                "city": city,
                "core": f"{w1}{w2.lower()}",
                "industry": industry,
                "name": f"{city} {w1}{w2.lower()} {industry} {suffix}",
            }
        )
    for i, r in enumerate(rows):
        r["customer_id"] = f"C{i:06d}"
        r["alias"] = f"{r['core']}{r['industry']}" if r["kind"] == "zh" else r["core"]
    frame = pl.DataFrame(
        {
            "customer_id": [r["customer_id"] for r in rows],
            "name": [r["name"] for r in rows],
            "aliases": [r["alias"] for r in rows],
        }
    )
    return frame, rows


def spelling(rng: np.random.Generator, r: dict, kind: str) -> str:
    name = r["name"]
    if kind == "master":
        return name
    if kind == "alias":
        return r["alias"]
    if kind == "typo":
        if r["kind"] == "zh":
            core = "".join(SIMILAR.get(ch, ch) for ch in r["core"][:1]) + r["core"][1:]
            if core == r["core"]:
                core = r["core"][::-1]
            return name.replace(r["core"], core, 1)
        j = int(rng.integers(len(r["city"]) + 1, len(r["city"]) + len(r["core"])))
        return name[:j] + "x" + name[j + 1 :]
    if kind == "doubled":
        j = int(rng.integers(2, len(name) - 4))
        return name[:j] + name[j] + name[j:]
    if kind == "dropped":
        j = int(rng.integers(2, len(name) - 4))
        return name[:j] + name[j + 1 :]
    if kind == "no_city":
        return name.removeprefix(r["city"]).strip()
    if kind == "glued":
        return f"{name}往来款" if r["kind"] == "zh" else f"TRF/{name.upper().replace(' ', '')}/PMT"
    if kind == "reordered":
        if r["kind"] == "zh":
            return f"{r['core']}{r['industry']}（{r['city']}）有限公司"
        return f"{r['core']} {r['industry']} {r['city']} Co Ltd"
    if kind == "truncated":
        return name[: max(8, len(name) * 3 // 4)]
    raise AssertionError(kind)


KINDS = {  # share of the distinct payer names
    "master": 0.25,
    "alias": 0.05,
    "typo": 0.12,
    "doubled": 0.08,
    "dropped": 0.08,
    "no_city": 0.08,
    "glued": 0.08,
    "reordered": 0.06,
    "truncated": 0.05,
    "nobody": 0.15,
}


def payers(rng: np.random.Generator, rows: list[dict], n: int) -> pl.DataFrame:
    """``n`` distinct payer names with the customer each spells (null: nobody)."""
    kinds = list(KINDS)
    p = np.array([KINDS[k] for k in kinds])
    seen: dict[str, tuple[str, str | None]] = {}
    names = {r["name"] for r in rows}
    tries = 0
    while len(seen) < n and tries < 20 * n:
        tries += 1
        kind = kinds[int(rng.choice(len(kinds), p=p))]
        if kind == "nobody":
            if rng.random() < 0.5:
                city = CITIES[int(rng.choice(len(CITIES), p=CITY_WEIGHTS))][0]
                core = "".join(rng.choice(CORE_CHARS, 2, replace=False))
                text = f"{city}{core}{INDUSTRIES[int(rng.integers(len(INDUSTRIES)))]}有限公司"
                if text in names:
                    continue
            else:
                surname = "张王李赵刘陈杨黄周吴"[int(rng.integers(10))]
                text = f"{surname}{int(rng.integers(10**6))}"
            seen.setdefault(text, ("nobody", None))
            continue
        r = rows[int(rng.integers(len(rows)))]
        text = spelling(rng, r, kind)
        seen.setdefault(text, (kind, r["customer_id"]))
    return pl.DataFrame(
        {
            "payer_name": list(seen),
            "payer_account": [None] * len(seen),
            "kind": [v[0] for v in seen.values()],
            "truth": [v[1] for v in seen.values()],
        },
        schema={
            "payer_name": pl.String,
            "payer_account": pl.String,
            "kind": pl.String,
            "truth": pl.String,
        },
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--customers", type=int, default=60_000)
    ap.add_argument("--payers", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument(
        "--top-city", type=float, default=0.3, help="share of the customers in the first city"
    )
    args = ap.parse_args()
    global CITY_WEIGHTS
    CITY_WEIGHTS = city_weights(args.top_city)
    rng = np.random.default_rng(args.seed)
    cust, rows = customers(rng, args.customers)
    pay = payers(rng, rows, args.payers)
    print(
        f"{cust.height:,} customers ({sum(r['kind'] == 'zh' for r in rows):,} Chinese), "
        f"{pay.height:,} distinct payer names"
    )
    best, cpu, out = float("inf"), float("inf"), None
    for _ in range(args.repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        out = resolve_payers(pay.select("payer_name", "payer_account"), cust)
        best = min(best, time.perf_counter() - t0)
        cpu = min(cpu, time.process_time() - c0)
    print(f"resolve_payers: {best:.2f} s wall, {cpu:.2f} s cpu (all threads)")
    got = pay.join(out, on=["payer_name", "payer_account"], how="left", nulls_equal=True)
    if "candidates" not in got.columns:  # an engine without candidate lists
        got = got.with_columns(pl.lit(None, dtype=pl.List(pl.String)).alias("candidates"))
    print("\nmethods")
    print(got.group_by("method").len().sort("len", descending=True))
    found = (pl.col("customer_id") == pl.col("truth")).fill_null(False) | (
        pl.col("candidates").list.contains(pl.col("truth")).fill_null(False)
    )
    wrong = pl.col("customer_id").is_not_null() & (
        pl.col("truth").is_null() | (pl.col("customer_id") != pl.col("truth"))
    )
    summary = (
        got.group_by("kind")
        .agg(
            pl.len().alias("names"),
            (pl.col("customer_id") == pl.col("truth")).fill_null(False).mean().alias("resolved"),
            found.mean().alias("found"),
            wrong.mean().alias("wrong"),
            pl.col("candidates").list.len().mean().alias("mean_candidates"),
        )
        .sort("kind")
        .with_columns(pl.col("resolved", "found", "wrong").mul(100).round(1))
    )
    print("\nper spelling (% of its names; found = resolved or among the candidates)")
    with pl.Config(tbl_rows=40, tbl_width_chars=120):
        print(summary)


if __name__ == "__main__":
    main()
