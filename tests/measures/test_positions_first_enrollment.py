"""A pair enrolled more than once is one position: opened on its first enrollment, with that
enrollment's channel and advisor (ties on the date: the smaller enrollment_id), and the
initial investments summed. Hand-made rows on top of the measures_tiny fixture."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

from finrep.config import load_config
from finrep.engine import connect, execute
from finrep.filters import Filters
from finrep.measures.context import MeasureContext
from finrep.sources import load_tables

DATA = Path(__file__).parents[1] / "fixtures" / "measures_tiny"

EXTRA = [
    # C1/P1 again, later, through another channel and advisor: the first (E1) still wins.
    "E9,C1,P1,2024-02-20,250,One-time,0,A2,Phone,Active",
    # C2/P1 again on the same day as E3 with a smaller id: "E0" < "E3" wins the tie.
    "E0,C2,P1,2024-01-05,40,One-time,0,A1,Web,Active",
    # C4/P2 again, earlier, with no channel: the missing channel is the first one's.
    "E10,C4,P2,2024-03-01,60,One-time,0,A1,,Active",
]


def test_first_enrollment_gives_channel_and_advisor(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(DATA, data)
    with (data / "enrollments.csv").open("a") as fh:
        fh.write("\n".join(EXTRA) + "\n")
    tables = load_tables(connect(), data)
    ctx = MeasureContext(tables, Filters(), load_config(), date(2024, 4, 30))
    frame = execute(ctx.positions).set_index(["customer_id", "product_id"])
    assert len(frame) == 8  # 11 enrollments, 8 distinct pairs

    c1 = frame.loc[("C1", "P1")]
    assert (c1.channel, c1.advisor_id) == ("Web", "A1")
    assert c1.open_date.date() == date(2024, 1, 10)
    assert c1.initial_investment == 1000 + 250

    c2 = frame.loc[("C2", "P1")]
    assert (c2.channel, c2.advisor_id) == ("Web", "A1")
    assert c2.initial_investment == 2000 + 40

    c4 = frame.loc[("C4", "P2")]
    assert c4.channel is None or c4.channel != c4.channel  # null (None or NaN)
    assert c4.advisor_id == "A1"
    assert c4.open_date.date() == date(2024, 3, 1)

    # Pairs enrolled once keep their own row's values.
    c3 = frame.loc[("C3", "P3")]
    assert (c3.channel, c3.advisor_id) == ("Phone", "A2")
