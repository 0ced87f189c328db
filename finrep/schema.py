"""The nine tables: columns (in file order), types, keys, foreign keys and enum domains.

This module is the one source of truth for the generator (`synth/`), the loader
(`sources.py`), the validator (`validate.py`) and the workbook's data dictionary.
Column names and order are those of the original dashboard's CSV files.

Types (`Column.dtype`):
- ``string``  text; ``enum`` lists its allowed values when it is a closed domain.
- ``date``    a calendar date, ISO ``YYYY-MM-DD`` in files finrep writes.
- ``int64``   whole number.
- ``float64`` decimal number; ``money=True`` marks amounts in the firm's currency
  (two decimals, computed in integer cents by the generator).
"""

from __future__ import annotations

from dataclasses import dataclass, field

SEGMENTS = ("Mass Market", "Affluent", "High Net Worth", "Ultra High Net Worth")

# US Census regions (MEASURES.md: Region). DC counts as South, as the Census Bureau does.
REGION_STATES: dict[str, tuple[str, ...]] = {
    "Northeast": ("CT", "ME", "MA", "NH", "RI", "VT", "NJ", "NY", "PA"),
    "Midwest": ("IL", "IN", "MI", "OH", "WI", "IA", "KS", "MN", "MO", "NE", "ND", "SD"),
    "South": (
        "DE", "DC", "FL", "GA", "MD", "NC", "SC", "VA", "WV",
        "AL", "KY", "MS", "TN", "AR", "LA", "OK", "TX",
    ),
    "West": (
        "AZ", "CO", "ID", "MT", "NV", "NM", "UT", "WY",
        "AK", "CA", "HI", "OR", "WA",
    ),
}  # fmt: skip
STATE_REGION: dict[str, str] = {s: r for r, states in REGION_STATES.items() for s in states}
STATES = tuple(sorted(STATE_REGION))
REGIONS = tuple(REGION_STATES)

AGE_BANDS = ("Under 30", "30-44", "45-59", "60+")

PRODUCT_CATEGORIES = (
    "Savings Account",
    "Money Market Fund",
    "Bond Fund",
    "Retirement Account",
    "Annuity",
    "Insurance Product",
    "Mutual Fund",
    "Investment Fund",
    "ETF",
)
RISK_LEVELS = ("Low", "Medium-Low", "Medium", "Medium-High", "High")
PRODUCT_STATUSES = ("Active", "Inactive")
CONTRIBUTION_FREQUENCIES = ("One-time", "Monthly", "Quarterly", "Bi-annual", "Annual")
ENROLLMENT_CHANNELS = ("In-person", "Phone", "Web", "Mobile App")
ENROLLMENT_STATUSES = ("Active", "Closed")
SERVICE_CHANNELS = ("Phone", "In-person", "Email", "Chat", "Web", "Mobile App")
REASON_CODES = (
    "Account Inquiry",
    "Statement Request",
    "Password Reset",
    "Fee Inquiry",
    "Investment Advice",
    "Market Information",
    "Transaction Issue",
    "Technical Support",
    "Complaint",
)
ISSUE_REASONS = ("Complaint", "Technical Support", "Transaction Issue")
RESOLUTION_STATUSES = ("Resolved", "Partially Resolved", "Unresolved")
ACTION_TYPES = (
    "Login",
    "View Balance",
    "Download Statement",
    "Research Product",
    "Modify Investment",
    "Use Planning Tool",
    "Update Profile",
    "Contact Support",
    "Complete Survey",
    "Watch Educational Video",
)
DEVICE_TYPES = ("Desktop", "Mobile Phone", "Tablet", "Smart TV", "Voice Assistant")
CERTIFICATION_LEVELS = ("Junior", "Associate", "Senior", "Expert", "Master")
CHURN_REASONS = (
    "Fee Concerns",
    "Poor Performance",
    "Service Issue",
    "Competitor Offering",
    "Product Dissatisfaction",
    "Advisor Change",
    "Relocation",
    "Financial Hardship",
    "Life Event",
)
YES_NO = ("Yes", "No")


def is_mobile_device(device_type: str) -> bool:
    """MEASURES.md: `Mobile Phone`, `Tablet`, or any device type containing "Mobile"."""
    return device_type in ("Mobile Phone", "Tablet") or "mobile" in device_type.lower()


@dataclass(frozen=True)
class Column:
    name: str
    dtype: str  # string | date | int64 | float64
    description: str
    nullable: bool = False
    enum: tuple[str, ...] | None = None
    money: bool = False
    pii: bool = False  # masked in every message and never written to a pack
    min_value: float | None = None
    max_value: float | None = None


@dataclass(frozen=True)
class ForeignKey:
    columns: tuple[str, ...]
    table: str
    ref_columns: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    foreign_keys: tuple[ForeignKey, ...] = field(default_factory=tuple)

    @property
    def filename(self) -> str:
        """File name stem as in the original dashboard (`customers` → `customers.csv`)."""
        return self.name

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


def _fk(col: str, table: str, ref: str | None = None) -> ForeignKey:
    return ForeignKey((col,), table, (ref or col,))


CUSTOMERS = Table(
    "customers",
    "One row per customer.",
    (
        Column("customer_id", "string", "Customer key."),
        Column("first_name", "string", "Given name.", pii=False),
        Column("last_name", "string", "Family name.", pii=False),
        Column("birth_date", "date", "Date of birth (age bands are taken at the period end)."),
        Column("enrollment_date", "date", "Date of the customer's first enrollment."),
        Column("customer_segment", "string", "Wealth segment.", enum=SEGMENTS),
        Column("employer_id", "string", "Employer key (no employer table).", nullable=True),
        Column(
            "email", "string", "E-mail address (personal data: masked).", nullable=True, pii=True
        ),
        Column("phone", "string", "Phone number (personal data: masked).", nullable=True, pii=True),
        Column("address_city", "string", "City.", nullable=True),
        Column("address_state", "string", "US state, two-letter code.", enum=STATES),
    ),
    ("customer_id",),
)

PRODUCTS = Table(
    "products",
    "One row per financial product.",
    (
        Column("product_id", "string", "Product key."),
        Column("product_name", "string", "Product name."),
        Column("product_category", "string", "Product category.", enum=PRODUCT_CATEGORIES),
        Column("launch_date", "date", "Date the product launched."),
        Column("min_investment", "float64", "Minimum initial investment.", money=True, min_value=0),
        Column(
            "annual_fee_percentage",
            "float64",
            "Annual fee, % of balance.",
            min_value=0,
            max_value=100,
        ),
        Column(
            "management_fee_fixed",
            "float64",
            "Fixed annual management fee.",
            money=True,
            min_value=0,
        ),
        Column("risk_level", "string", "Risk level.", enum=RISK_LEVELS),
        Column(
            "active_status", "string", "Whether the product is still sold.", enum=PRODUCT_STATUSES
        ),
    ),
    ("product_id",),
)

ENROLLMENTS = Table(
    "enrollments",
    "One row per position (customer × product): when and how it was opened.",
    (
        Column("enrollment_id", "string", "Enrollment key."),
        Column("customer_id", "string", "Customer."),
        Column("product_id", "string", "Product."),
        Column("enrollment_date", "date", "Date the position opened."),
        Column(
            "initial_investment",
            "float64",
            "Amount invested at opening (new money).",
            money=True,
            min_value=0,
        ),
        Column(
            "contribution_frequency",
            "string",
            "Planned contribution frequency.",
            enum=CONTRIBUTION_FREQUENCIES,
        ),
        Column(
            "monthly_contribution",
            "float64",
            "Planned contribution per period.",
            money=True,
            min_value=0,
        ),
        Column("advisor_id", "string", "Advisor assigned.", nullable=True),
        Column(
            "channel",
            "string",
            "Channel the position was opened through.",
            enum=ENROLLMENT_CHANNELS,
        ),
        Column(
            "status",
            "string",
            "Active, or Closed once the position is closed.",
            enum=ENROLLMENT_STATUSES,
        ),
    ),
    ("enrollment_id",),
    (
        _fk("customer_id", "customers"),
        _fk("product_id", "products"),
        _fk("advisor_id", "advisors"),
    ),
)

ACCOUNT_BALANCES = Table(
    "account_balances",
    "Balance rows of each position; flows are month-to-date (cumulative within the month).",
    (
        Column("balance_id", "string", "Balance row key."),
        Column("customer_id", "string", "Customer."),
        Column("product_id", "string", "Product."),
        Column("date", "date", "Date of the balance."),
        Column("balance", "float64", "Balance at that date.", money=True, min_value=0),
        Column(
            "contributions_mtd", "float64", "Contributions month to date.", money=True, min_value=0
        ),
        Column("withdrawals_mtd", "float64", "Withdrawals month to date.", money=True, min_value=0),
        Column(
            "investment_returns_mtd",
            "float64",
            "Investment returns month to date (may be negative).",
            money=True,
        ),
        Column("fees_mtd", "float64", "Fees month to date.", money=True, min_value=0),
    ),
    ("balance_id",),
    (
        _fk("customer_id", "customers"),
        _fk("product_id", "products"),
        ForeignKey(("customer_id", "product_id"), "enrollments", ("customer_id", "product_id")),
    ),
)

SERVICE_INTERACTIONS = Table(
    "service_interactions",
    "One row per customer-service contact.",
    (
        Column("interaction_id", "string", "Interaction key."),
        Column("customer_id", "string", "Customer."),
        Column("date", "date", "Date of the contact."),
        Column("channel", "string", "Contact channel.", enum=SERVICE_CHANNELS),
        Column("reason_code", "string", "Reason for the contact.", enum=REASON_CODES),
        Column("duration_minutes", "float64", "Handle time in minutes.", min_value=0),
        Column(
            "satisfaction_score",
            "float64",
            "Satisfaction 1–5 (blank when not scored).",
            nullable=True,
            min_value=1,
            max_value=5,
        ),
        Column("resolution_status", "string", "Outcome of the contact.", enum=RESOLUTION_STATUSES),
        Column("agent_id", "string", "Agent who handled it.", nullable=True),
    ),
    ("interaction_id",),
    (_fk("customer_id", "customers"),),
)

ENGAGEMENT = Table(
    "engagement",
    "One row per digital session.",
    (
        Column("engagement_id", "string", "Session key."),
        Column("customer_id", "string", "Customer."),
        Column("date", "date", "Date of the session."),
        Column("action_type", "string", "Main action of the session.", enum=ACTION_TYPES),
        Column("device_type", "string", "Device used.", enum=DEVICE_TYPES),
        Column("session_duration", "float64", "Session length in minutes.", min_value=0),
        Column("pages_viewed", "int64", "Pages viewed.", min_value=0),
        Column("actions_taken", "int64", "Actions taken.", min_value=0),
    ),
    ("engagement_id",),
    (_fk("customer_id", "customers"),),
)

ADVISORS = Table(
    "advisors",
    "One row per financial advisor.",
    (
        Column("advisor_id", "string", "Advisor key."),
        Column("first_name", "string", "Given name."),
        Column("last_name", "string", "Family name."),
        Column("office_location", "string", "Office (city, state).", nullable=True),
        Column("certification_level", "string", "Certification level.", enum=CERTIFICATION_LEVELS),
        Column("years_experience", "int64", "Years of experience.", min_value=0),
        Column(
            "customer_satisfaction_avg",
            "float64",
            "Average client satisfaction 1–5.",
            nullable=True,
            min_value=1,
            max_value=5,
        ),
        Column("clients_count", "int64", "Distinct customers assigned.", min_value=0),
    ),
    ("advisor_id",),
)

MARKET_DATA = Table(
    "market_data",
    "Daily market data (business days).",
    (
        Column("date", "date", "Business day."),
        Column("sp500_index", "float64", "S&P 500 close.", min_value=0),
        Column("bond_index", "float64", "Bond index close.", min_value=0),
        Column("inflation_rate", "float64", "Inflation, % a year.", nullable=True),
        Column("prime_rate", "float64", "Prime rate, % a year.", nullable=True),
        Column("unemployment_rate", "float64", "Unemployment, %.", nullable=True),
    ),
    ("date",),
)

RETENTION = Table(
    "retention",
    "One row per churn event of a position; recovered churns leave the position open.",
    (
        Column("customer_id", "string", "Customer."),
        Column("product_id", "string", "Product."),
        Column("churn_date", "date", "Date of the churn."),
        Column("churn_reason", "string", "Stated reason.", enum=CHURN_REASONS),
        Column(
            "exit_survey_score",
            "float64",
            "Exit survey score 1–5.",
            nullable=True,
            min_value=1,
            max_value=5,
        ),
        Column(
            "recovered_flag",
            "string",
            "Yes when the customer was won back (position stays open).",
            enum=YES_NO,
        ),
        Column(
            "total_customer_lifetime_value",
            "float64",
            "Fees the position paid up to the churn date.",
            money=True,
            nullable=True,
        ),
    ),
    ("customer_id", "product_id", "churn_date"),
    (
        _fk("customer_id", "customers"),
        _fk("product_id", "products"),
        ForeignKey(("customer_id", "product_id"), "enrollments", ("customer_id", "product_id")),
    ),
)

# Load order: every table comes after the tables its foreign keys point to.
TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        CUSTOMERS,
        PRODUCTS,
        ADVISORS,
        MARKET_DATA,
        ENROLLMENTS,
        ACCOUNT_BALANCES,
        SERVICE_INTERACTIONS,
        ENGAGEMENT,
        RETENTION,
    )
}
TABLE_NAMES = tuple(TABLES)
