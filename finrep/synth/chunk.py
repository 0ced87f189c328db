"""Everything about one chunk of customers: their rows in the six per-customer tables.

Chunks are independent given the run's shared state (`World`), each with its own random
stream derived from (seed, chunk number), so output depends only on the options.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pyarrow as pa

from finrep.schema import (
    ACTION_TYPES,
    CHURN_REASONS,
    CONTRIBUTION_FREQUENCIES,
    DEVICE_TYPES,
    ENROLLMENT_STATUSES,
    REASON_CODES,
    RESOLUTION_STATUSES,
    SERVICE_CHANNELS,
    YES_NO,
)
from finrep.synth.balances import simulate_balances
from finrep.synth.catalogue import Advisors, Products
from finrep.synth.columns import Codes, Dates, Ints, Scaled, Serial, id_width, make_ids
from finrep.synth.customers import build_customers, customer_columns
from finrep.synth.engagement import MAX_PER_MONTH as MAX_SESSIONS
from finrep.synth.engagement import build_sessions
from finrep.synth.market import Market
from finrep.synth.pools import Pools
from finrep.synth.positions import ENROLLMENT_CHANNEL, MAX_PRODUCTS, build_positions
from finrep.synth.service import MAX_PER_MONTH as MAX_CONTACTS
from finrep.synth.service import build_contacts, grievance
from finrep.synth.window import Window

# Rows per chunk aimed at (balance rows dominate); memory is proportional to it.
TARGET_BALANCE_ROWS = 1_200_000
BALANCE_ROWS_PER_CUSTOMER_MONTH = 1.2


def chunk_size(n_months: int) -> int:
    """Customers per chunk: fixed by the window length alone, so output never depends on
    anything but the options."""
    per_customer = max(BALANCE_ROWS_PER_CUSTOMER_MONTH * n_months, 1.0)
    return int(min(max(TARGET_BALANCE_ROWS // per_customer, 500), 100_000))


@dataclass
class World:
    """Run-wide state shared by every chunk."""

    seed: int
    customers: int
    window: Window
    pools: Pools
    market: Market
    products: Products
    advisors: Advisors
    returns: np.ndarray  # (products, months)
    enroll_day: np.ndarray  # every customer's enrollment day, sorted
    n_agents: int
    widths: dict[str, int]

    @cached_property
    def agent_ids(self) -> pa.StringArray:
        return make_ids("AGT", np.arange(1, self.n_agents + 1), id_width(4, self.n_agents))

    @staticmethod
    def id_widths(customers: int, n_months: int) -> dict[str, int]:
        cm = customers * n_months
        return {
            "customer": id_width(6, customers),
            "enrollment": id_width(7, customers * MAX_PRODUCTS),
            "balance": id_width(8, customers * MAX_PRODUCTS * n_months),
            "interaction": id_width(7, cm * MAX_CONTACTS * 2),
            "engagement": id_width(7, cm * MAX_SESSIONS),
        }


@dataclass
class Chunk:
    """The rows of one chunk: columns per table, and its advisors' distinct clients."""

    index: int
    tables: dict[str, dict[str, object]]
    advisor_clients: np.ndarray


def build_chunk(world: World, index: int, lo: int, hi: int) -> Chunk:
    """Columns of customers, enrollments, account_balances, service_interactions,
    engagement and retention for customers number lo..hi−1.

    Pure: reads `world`, never changes it (chunks may be built concurrently). Id columns are
    `Serial` and get their numbers when written, in chunk order.
    """
    rng = np.random.default_rng([world.seed, 10, index])
    window, products = world.window, world.products
    c = build_customers(lo, world.enroll_day[lo:hi], window, world.pools,
                        world.advisors.assign, world.customers, rng)  # fmt: skip
    pos = build_positions(c, products, window, rng)
    contacts = build_contacts(c, window, world.market.equity_return, world.n_agents, rng)
    bal = simulate_balances(pos, c, products, world.returns, window,
                            grievance(contacts, c.n, window), rng)  # fmt: skip
    # No contact after the customer has left.
    contacts = contacts.take(np.flatnonzero(contacts.day <= bal.last_day[contacts.customer]))
    sessions = build_sessions(c, bal.last_day, window, rng)

    # Advisors' distinct clients.
    with_adv = pos.advisor >= 0
    pairs = np.unique(pos.advisor[with_adv] * c.n + pos.customer[with_adv])
    advisor_clients = np.bincount(pairs // c.n, minlength=world.advisors.n)

    w = world.widths
    cust_ids = c.ids
    prod_ids = products.ids
    out: dict[str, dict[str, object]] = {}
    out["customers"] = customer_columns(c, world.pools, world.customers, rng)

    out["enrollments"] = {
        "enrollment_id": Serial("ENR", w["enrollment"], pos.n),  # fmt: skip
        "customer_id": Codes(pos.customer, cust_ids),
        "product_id": Codes(pos.product, prod_ids),
        "enrollment_date": Dates(pos.open_day),
        "initial_investment": Scaled(pos.initial_cents, 2),
        "contribution_frequency": Codes(pos.frequency, CONTRIBUTION_FREQUENCIES),
        "monthly_contribution": Scaled(pos.planned_cents, 2),
        "advisor_id": Codes(pos.advisor, world.advisors.ids),
        "channel": Codes(pos.channel, ENROLLMENT_CHANNEL),
        "status": Codes(bal.closed.astype(np.int64), ENROLLMENT_STATUSES),
    }

    n_bal = len(bal.day)
    out["account_balances"] = {
        "balance_id": Serial("BAL", w["balance"], n_bal),  # fmt: skip
        "customer_id": Codes(pos.customer[bal.position], cust_ids),
        "product_id": Codes(pos.product[bal.position], prod_ids),
        "date": Dates(bal.day),
        "balance": Scaled(bal.balance, 2),
        "contributions_mtd": Scaled(bal.contributions, 2),
        "withdrawals_mtd": Scaled(bal.withdrawals, 2),
        "investment_returns_mtd": Scaled(bal.returns, 2),
        "fees_mtd": Scaled(bal.fees, 2),
    }

    out["service_interactions"] = {
        "interaction_id": Serial("INT", w["interaction"], contacts.n),  # fmt: skip
        "customer_id": Codes(contacts.customer, cust_ids),
        "date": Dates(contacts.day),
        "channel": Codes(contacts.channel, SERVICE_CHANNELS),
        "reason_code": Codes(contacts.reason, REASON_CODES),
        "duration_minutes": Scaled(contacts.minutes_tenths, 1),
        "satisfaction_score": Scaled(
            contacts.satisfaction_tenths, 1, valid=contacts.satisfaction_tenths >= 0
        ),  # fmt: skip
        "resolution_status": Codes(contacts.resolution, RESOLUTION_STATUSES),
        "agent_id": Codes(contacts.agent, world.agent_ids),
    }

    out["engagement"] = {
        "engagement_id": Serial("ENG", w["engagement"], sessions.n),  # fmt: skip
        "customer_id": Codes(sessions.customer, cust_ids),
        "date": Dates(sessions.day),
        "action_type": Codes(sessions.action, ACTION_TYPES),
        "device_type": Codes(sessions.device, DEVICE_TYPES),
        "session_duration": Scaled(sessions.minutes_tenths, 1),
        "pages_viewed": Ints(sessions.pages),
        "actions_taken": Ints(sessions.actions),
    }

    e = bal.churn_position
    out["retention"] = {
        "customer_id": Codes(pos.customer[e], cust_ids),
        "product_id": Codes(pos.product[e], prod_ids),
        "churn_date": Dates(bal.churn_day),
        "churn_reason": Codes(bal.churn_reason, CHURN_REASONS),
        "exit_survey_score": Scaled(bal.churn_exit_tenths, 1, valid=bal.churn_exit_tenths >= 0),
        "recovered_flag": Codes(np.where(bal.churn_recovered, 0, 1), YES_NO),
        "total_customer_lifetime_value": Scaled(bal.churn_clv_cents, 2),
    }
    return Chunk(index, out, advisor_clients)
