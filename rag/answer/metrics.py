"""The standard financial metrics, computed in code from a filing's statement facts.

Each metric is a pure function of named standard line items (`ingest.facts`, line_items.json),
with its textbook definition. The definitions are those of Brealey, Myers & Allen, *Principles of
Corporate Finance* (13th ed., ch. 28, "Financial Analysis"), which uses end-of-period balances
unless an average is asked for; days measures use the period's days (365 a year, 91 a quarter).
A question's metric is chosen from this list by name, never written by the model; a formula the
question defines itself wins (`formulas`).

Pure: facts in, a `MetricValue` (the result, the formula with each input and its cell) out.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Callable

from rag.ingest.cards import DocumentCard
from rag.ingest.facts import Fact
from rag.ingest.line_items import normalised_label


@dataclass(frozen=True)
class Metric:
    name: str
    names: tuple[str, ...]  # how questions name it (normalised: lower case, no punctuation)
    inputs: tuple[str, ...]  # standard line items, in the order `compute` takes them
    compute: Callable[..., float]
    percent: bool = False  # shown as a percentage
    days: bool = False  # multiplied by the period's days
    definition: str = ""
    amount: bool = False  # money, shown in the unit the inputs are printed in (or the question asks)


def _ratio(a: float, b: float) -> float:
    return a / b


METRICS = [
    Metric("gross margin", ("gross margin", "gross profit margin", "gross margin percentage"),
           ("gross profit", "revenue"), _ratio, percent=True, definition="gross profit / revenue"),
    Metric("gross margin", ("gross margin",), ("revenue", "cost of revenue"), lambda r, c: (r - c) / r, percent=True,
           definition="(revenue - cost of revenue) / revenue"),  # for a statement that prints no gross profit
    Metric("operating margin", ("operating margin", "operating profit margin", "operating income margin", "ebit margin"),
           ("operating income", "revenue"), _ratio, percent=True, definition="operating income / revenue"),
    Metric("net margin", ("net margin", "net profit margin", "net income margin", "profit margin"),
           ("net income", "revenue"), _ratio, percent=True, definition="net income / revenue"),
    Metric("EBITDA", ("ebitda",), ("operating income", "depreciation and amortization"), lambda o, d: o + d,
           definition="operating income + depreciation and amortization", amount=True),
    Metric("EBITDA margin", ("ebitda margin",), ("operating income", "depreciation and amortization", "revenue"),
           lambda o, d, r: (o + d) / r, percent=True,
           definition="(operating income + depreciation and amortization) / revenue"),
    Metric("current ratio", ("current ratio", "working capital ratio"), ("total current assets", "total current liabilities"),
           _ratio, definition="total current assets / total current liabilities"),
    Metric("quick ratio", ("quick ratio", "acid test ratio", "acid test"),
           ("total current assets", "inventories", "total current liabilities"), lambda a, i, l: (a - i) / l,
           definition="(total current assets - inventories) / total current liabilities"),
    Metric("debt to equity", ("debt to equity", "debt to equity ratio", "debt equity ratio"),
           ("total liabilities", "shareholders equity"), _ratio, definition="total liabilities / shareholders' equity"),
    Metric("return on assets", ("return on assets", "roa"), ("net income", "total assets"), _ratio, percent=True,
           definition="net income / total assets"),
    Metric("return on equity", ("return on equity", "roe"), ("net income", "shareholders equity"), _ratio, percent=True,
           definition="net income / shareholders' equity"),
    Metric("asset turnover", ("asset turnover", "asset turnover ratio", "total asset turnover"),
           ("revenue", "total assets"), _ratio, definition="revenue / total assets"),
    Metric("inventory turnover", ("inventory turnover", "inventory turnover ratio"), ("cost of revenue", "inventories"),
           _ratio, definition="cost of revenue / inventories"),
    Metric("days inventory outstanding", ("days inventory outstanding", "dio", "days in inventory", "days of inventory"),
           ("inventories", "cost of revenue"), _ratio, days=True, definition="inventories / cost of revenue x days"),
    Metric("days sales outstanding", ("days sales outstanding", "dso", "average collection period"),
           ("accounts receivable", "revenue"), _ratio, days=True, definition="accounts receivable / revenue x days"),
    Metric("days payable outstanding", ("days payable outstanding", "dpo", "days payables outstanding"),
           ("accounts payable", "cost of revenue"), _ratio, days=True, definition="accounts payable / cost of revenue x days"),
    Metric("capital expenditure to revenue", ("capex to revenue", "capital expenditure to revenue", "capex as a percentage of revenue",
                                              "capex as a share of revenue", "capital intensity", "capex as a of revenue",
                                              "capital expenditure as a of revenue", "capex as a percent of revenue"),
           ("capital expenditure", "revenue"), lambda c, r: abs(c) / r, percent=True,
           definition="capital expenditure / revenue"),
    Metric("cost of revenue to revenue", ("cogs as a of revenue", "cost of goods sold as a of revenue", "cost of sales as a of revenue",
                                          "cogs as a percentage of revenue", "cost of goods sold as a percentage of revenue",
                                          "cogs to revenue", "cost of revenue to revenue", "cogs margin"),
           ("cost of revenue", "revenue"), _ratio, percent=True, definition="cost of revenue / revenue"),
    Metric("dividend payout ratio", ("dividend payout ratio", "payout ratio", "dividend payout"),
           ("dividends paid", "net income"), lambda d, n: abs(d) / n, percent=True, definition="dividends paid / net income"),
]


@dataclass(frozen=True)
class MetricValue:
    metric: Metric
    value: float
    inputs: tuple[Fact, ...]

    def shown(self, scale: float | None = None) -> str:
        """ "23.42%" or "1.37" (days: "45.2 days"); an amount in the unit `scale` names, else in
        its inputs' printed unit ("$1,832 million", not 1,832,000,000).

        >>> f = Fact("awk.pdf", 85, "income", "", "Operating income", "operating income", "2021", "2021-12-31", 12, 1196.0, 1e6, "USD", "1,196")
        >>> ebitda = next(m for m in METRICS if m.name == "EBITDA")
        >>> MetricValue(ebitda, 1832e6, (f,)).shown(), MetricValue(ebitda, 1832e6, (f,)).shown(1e9)
        ('$1,832 million', '$1.832 billion')
        """
        if self.metric.percent:
            return f"{self.value * 100:.2f}%"
        if self.metric.amount and self.inputs:
            unit = scale or self.inputs[0].scale or 1.0
            decimals = max(len(f.text.partition(".")[2].rstrip(")").strip()) for f in self.inputs) \
                + max(0, round(math.log10(unit / (self.inputs[0].scale or 1.0))))
            word = {1e3: " thousand", 1e6: " million", 1e9: " billion"}.get(unit, "")
            return f"{'-' if self.value < 0 else ''}${abs(self.value) / unit:,.{decimals}f}{word}"
        return f"{self.value:.1f} days" if self.metric.days else f"{self.value:,.2f}"

    def formula(self) -> str:
        """The formula with each input as printed and where: "gross profit / revenue = 4,127 (page 4) / 17,631 (page 4)"."""
        cells = ", ".join(f"{f.item} {f.text} ({f.label}, {f.period}, page {f.page})" for f in self.inputs)
        return f"{self.metric.name} = {self.metric.definition}; {cells}"


def asked_metric(question: str) -> Metric | None:
    """The standard metric a question names, by its longest name in the question.

    >>> asked_metric("What is Best Buy's quick ratio for Q2 FY2024?").name, asked_metric("What was its ROA?").name
    ('quick ratio', 'return on assets')
    >>> asked_metric("What is the EBITDA margin?").name, asked_metric("What was revenue?")
    ('EBITDA margin', None)
    """
    text = f" {normalised_label(question)} "
    found = [(len(name), metric) for metric in METRICS for name in metric.names if f" {name} " in text]
    return max(found, key=lambda pair: pair[0])[1] if found else None


_AVERAGE = re.compile(r"\b(?:(?:2|3|4|5|two|three|four|five)[- ]years?(?: [a-z]+)? average|average\b.{0,80}\bfrom\b)",
                      re.IGNORECASE)


def averaged_years(question: str, years: tuple[int, ...]) -> tuple[int, ...]:
    """The fiscal years a question asks a metric averaged over ("the FY2015 - FY2017 3 year average
    net profit margin": 2015, 2016, 2017); () when it asks for no average over a span of years.

    >>> averaged_years("What is the FY2018 - FY2020 3 year average of capex as a % of revenue?", (2018, 2020))
    (2018, 2019, 2020)
    >>> averaged_years("What is the FY2020 net margin?", (2020,)), averaged_years("average inventory in FY2021", (2020, 2021))
    ((), ())
    """
    if len(years) != 2 or not _AVERAGE.search(question) or not 0 < years[1] - years[0] <= 4:
        return ()
    return tuple(range(years[0], years[1] + 1))


def lacking(metric: Metric, chosen: Callable[[str], list[Fact]]) -> list[str]:
    """The inputs a metric cannot take from the facts: none for the period, or two values."""
    return [item for item in metric.inputs if len({f.value * f.scale for f in chosen(item)}) != 1]


def variants(name: str) -> list[Metric]:
    """The ways to compute a metric, in order (gross margin from gross profit, else from cost of revenue)."""
    return [metric for metric in METRICS if metric.name == name]


def compute(metric: Metric, chosen: Callable[[str], list[Fact]], card: DocumentCard | None) -> MetricValue | None:
    """The metric from the facts `chosen` gives for each input (the filing's own period), or None
    when an input is missing or its facts disagree (two values for one line item and period)."""
    inputs = []
    for item in metric.inputs:
        facts = chosen(item)
        if not facts or len({f.value * f.scale for f in facts}) != 1:
            return None
        inputs.append(facts[0])
    values = [f.value * f.scale for f in inputs]
    try:
        value = metric.compute(*values)
    except ZeroDivisionError:
        return None
    if metric.days:
        value *= 91 if card is not None and card.quarter is not None else 365
    return MetricValue(metric, value, tuple(inputs))


@dataclass(frozen=True)
class AveragedMetric:
    """A metric averaged over fiscal years ("the 3 year average net profit margin"): the mean of
    the metric computed for each year from that year's facts, as analysts average it."""

    metric: Metric
    value: float
    each: tuple[tuple[int, MetricValue], ...]  # (fiscal year, the metric for it)

    @property
    def inputs(self) -> tuple[Fact, ...]:
        return tuple(f for _, year in self.each for f in year.inputs)

    def shown(self, scale: float | None = None) -> str:
        return MetricValue(self.metric, self.value, self.each[0][1].inputs).shown(scale)

    def formula(self) -> str:
        """"average of net margin over FY2015-FY2017 = (2.34% + 3.52% + 3.12%) / 3; net margin = ..."."""
        years = " + ".join(value.shown() for _, value in self.each)
        cells = ", ".join(f"{f.item} FY{year} {f.text} ({f.label}, {f.period}, page {f.page})"
                          for year, value in self.each for f in value.inputs)
        return (f"average of {self.metric.name} over FY{self.each[0][0]}-FY{self.each[-1][0]} = ({years}) / "
                f"{len(self.each)}; {self.metric.name} = {self.metric.definition}; {cells}")


def averaged(metric: Metric, chosen_for: Callable[[int], Callable[[str], list[Fact]]], card: DocumentCard | None,
             years: tuple[int, ...]) -> AveragedMetric | None:
    """The metric for each fiscal year (`chosen_for(year)` gives that year's facts of an item),
    averaged; None when any year cannot be computed (an average of fewer years is another number)."""
    each = []
    for year in years:
        value = compute(metric, chosen_for(year), card)
        if value is None:
            return None
        each.append((year, value))
    return AveragedMetric(metric, sum(v.value for _, v in each) / len(each), tuple(each))
