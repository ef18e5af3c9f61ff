"""What a document's file name and its body say of its period, beside its cover (`cards`):
"2023 Q3 AAPL.pdf" names the period first and the company after it; a 10-Q's cover states only
the date its quarter ends, and its notes say in which month its fiscal year ends.

Pure: text in, fields out.
"""
from __future__ import annotations

import re

_MONTHS = {m: i for i, m in enumerate(
    ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
     "november", "december"], start=1)}
_FILE_KINDS = [("10-K", r"10-?k"), ("10-Q", r"10-?q"), ("8-K", r"8-?k"), ("earnings release", r"earnings"),
               ("annual report", r"annual[-_ ]?report"), ("strategic plan", r"strategic[-_ ]?plan")]

def from_file_name(stem: str) -> dict:
    """What a file name says: "3M_2023Q2_10Q" -> organisation 3M, Q2 2023, 10-Q; a name that puts
    the period first ("2023 Q3 AAPL") names the organisation after it.

    >>> from_file_name("3M_2023Q2_10Q"), from_file_name("japan-us-alliance")
    ({'organisation': '3M', 'fiscal_year': 2023, 'quarter': 2, 'file_period': '2023 Q2', 'kind': '10-Q'}, {})
    >>> from_file_name("2023 Q3 AAPL")["organisation"], from_file_name("FY2022_Annual_Report")["file_period"]
    ('AAPL', '2022')
    """
    out: dict = {}
    words = [w for w in re.split(r"[_\s\-]+", stem) if w]
    period = re.compile(r"(?:FY)?(?:19|20)\d{2}(?:Q[1-4])?|Q[1-4]|(?:10|8)[kq]|annualreport|earnings|annual|report", re.I)
    lead, marked = [], False
    for word in words:
        if re.search(r"(?:19|20)\d{2}", word) or re.fullmatch(r"(?:10|8)[kq]|annualreport|earnings", word, re.I):
            marked = True
            break
        lead.append(word)
    lead_name = " ".join(lead) or re.sub(r"(?:19|20)\d{2}.*$", "", stem)
    if lead_name and marked:  # "NARA2022", "3M_2018_10K"; not "japan-us-alliance"
        out["organisation"] = lead_name.strip()
    elif marked and not lead:  # "2023 Q3 AAPL": the words after the period that are not a form
        trail = [w for w in words if not period.fullmatch(w)]
        if trail and len(trail) <= 4:
            out["organisation"] = " ".join(trail)
    found = re.search(r"((?:19|20)\d{2})\s*[_-]?\s*Q([1-4])|Q([1-4])\s*[_-]?\s*(?:FY)?((?:19|20)\d{2})", stem, re.I)
    if found:
        out["fiscal_year"] = int(found.group(1) or found.group(4))
        out["quarter"] = int(found.group(2) or found.group(3))
        out["file_period"] = f"{out['fiscal_year']} Q{out['quarter']}"
    else:
        found = re.search(r"(?:FY)?((?:19|20)\d{2})", stem, re.I)
        if found:
            out["fiscal_year"] = int(found.group(1))
            out["file_period"] = str(out["fiscal_year"])
    for kind, pattern in _FILE_KINDS:
        if re.search(rf"(?:^|[_\s\-]){pattern}(?:$|[_\s\-.])", stem, re.IGNORECASE):
            out["kind"] = kind
            break
    return out


def fiscal_year_end_month(text: str) -> int | None:
    """The month a filing says its fiscal year ends in ("fiscal year ending January 27, 2024"),
    the most often said; None when it never says. A quarter is placed in the fiscal year by it.

    >>> fiscal_year_end_month("our fiscal year ends on June 30. In the fiscal year ending June 30, 2023 ...")
    6
    """
    said = [m.group(1).lower() for m in re.finditer(
        r"fiscal\s+year\s+(?:ends|ending|ended|end)\s+(?:on\s+)?(January|February|March|April|May|June|July|August|"
        r"September|October|November|December)\b", text, re.IGNORECASE)]
    if not said:
        return None
    return _MONTHS[max(set(said), key=said.count)]
