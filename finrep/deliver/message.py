"""One pack email: subject from the config template, HTML and plain-text bodies from
`templates/email.{html,txt}.j2`, the PDF and workbook attached.

Checked before anything is sent: no CR/LF in any header value (header injection), every
attachment present and non-empty, the attachments within `smtp.max_attachment_mb`. Data-
derived text (narrative, filters, labels) is passed through `finrep.sources.mask_pii`.
"""

from __future__ import annotations

import email.policy
import email.utils
import mimetypes
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from finrep.config import Config
from finrep.deliver.recipients import Recipient, check_address, check_header_value
from finrep.deliver.summary import PackSummary
from finrep.errors import ConfigError, DeliveryError
from finrep.filters import Filters
from finrep.render.formats import direction, format_change, format_value
from finrep.resources import templates_dir
from finrep.sources import mask_pii

HTML_TEMPLATE = "email.html.j2"
TEXT_TEMPLATE = "email.txt.j2"
MIB = 1024 * 1024

_MIME = {
    ".pdf": ("application", "pdf"),
    ".xlsx": ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
}


def human_size(n_bytes: int) -> str:
    """``812 KB``, ``14.2 MB`` (binary units, as mail servers count)."""
    if n_bytes >= MIB:
        return f"{n_bytes / MIB:.1f} MB"
    return f"{max(1, round(n_bytes / 1024))} KB"


def check_attachments(paths: Sequence[Path], max_mb: float, who: str = "") -> int:
    """Total size in bytes; refuses missing, empty or over-budget attachments, naming each."""
    sizes = []
    for path in paths:
        if not path.is_file():
            raise DeliveryError(f"attachment {path} is missing; rebuild the pack")
        size = path.stat().st_size
        if size == 0:
            raise DeliveryError(f"attachment {path} is empty (0 bytes); rebuild the pack")
        sizes.append((path, size))
    total = sum(s for _, s in sizes)
    budget = max_mb * MIB
    if total > budget:
        listed = ", ".join(f"{p.name} is {human_size(s)}" for p, s in sizes)
        for_whom = f" for {who}" if who else ""
        raise DeliveryError(
            f"attachments{for_whom} too large: {listed}; {human_size(total)} in all, over the "
            f"{max_mb:g} MB budget (smtp.max_attachment_mb). Nothing was sent. Send fewer "
            "pages (--pages) or formats (--format pdf), or raise smtp.max_attachment_mb if "
            "your mail server accepts larger messages."
        )
    return total


def short_filters_label(filters: Filters) -> str:
    """Values only, for subjects: ``Affluent · West`` (``Segment: Affluent`` is in the body)."""
    return " · ".join(", ".join(values) for _, values in filters.items())


@lru_cache(maxsize=4)
def _environment(folder: str) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder),
        autoescape=lambda name: bool(name and name.endswith(".html.j2")),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


def render_subject(config: Config, summary: PackSummary) -> str:
    """The subject from `smtp.subject` (Jinja2: period_label, filters_label, company, title)."""
    try:
        template = jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(
            config.smtp.subject
        )
        subject = template.render(
            period_label=summary.period.label,
            filters_label=mask_pii(short_filters_label(summary.filters)),
            company=summary.company,
            title=summary.title,
            period=summary.period.spec,
        )
    except jinja2.TemplateError as exc:
        raise ConfigError(
            f"smtp.subject: the template {config.smtp.subject!r} does not render ({exc}); "
            "it may use period_label, filters_label, company, title and period"
        ) from None
    check_header_value("subject", subject)
    if not subject.strip():
        raise ConfigError("smtp.subject renders an empty subject; give it some text")
    return subject.strip()


@dataclass(frozen=True)
class _Colors:
    good: str
    bad: str
    flat: str


def body_context(
    config: Config, summary: PackSummary, attachments: Sequence[Path], recipient_name: str
) -> dict[str, Any]:
    """The variables both body templates see (every data-derived string masked)."""
    theme = config.theme
    symbol = config.company.currency_symbol
    colors = _Colors(good=theme.positive, bad=theme.negative, flat=theme.neutral)
    kpis = []
    for k in summary.kpis:
        kpis.append(
            {
                "label": mask_pii(k.label),
                "value": format_value(k.value, k.unit, symbol),
                "change": format_change(k.change, k.change_pct, k.unit, symbol),
                "change_ly": format_change(k.change_ly, k.change_ly_pct, k.unit, symbol),
                "change_color": getattr(colors, direction(k.change, k.higher_is_better)),
                "change_ly_color": getattr(colors, direction(k.change_ly, k.higher_is_better)),
            }
        )
    return {
        "company": config.company.name,
        "title": summary.title,
        "period_label": summary.period.label,
        "previous_label": summary.comparison.label,
        "last_year_label": summary.last_year.label,
        "as_of": summary.as_of.isoformat(),
        "filters_label": mask_pii(summary.filters.label()),
        "kpis": kpis,
        "narrative": [mask_pii(s) for s in summary.narrative],
        "attachments": [
            {"name": p.name, "size": human_size(p.stat().st_size)} for p in attachments
        ],
        "recipient_name": mask_pii(recipient_name),
        "confidentiality": config.company.confidentiality,
        "theme": theme,
    }


def compose(
    config: Config,
    summary: PackSummary,
    recipients: Sequence[Recipient],
    attachments: Sequence[Path],
    *,
    sender: str | None = None,
    now: datetime | None = None,
) -> EmailMessage:
    """The complete message (multipart/mixed: text + HTML alternatives, then attachments).

    Raises DeliveryError for header injection, a bad address, or attachments that are
    missing, empty or over the size budget, before anything is built.
    """
    if not recipients:
        raise DeliveryError("no recipients for this message")
    from_addr = check_address("--from / smtp.from", sender or config.smtp.from_addr)
    company = check_header_value("company.name", config.company.name)
    to_values = []
    for r in recipients:
        address = check_address("recipient", r.email)
        name = check_header_value(f"name of {address}:", r.name)
        to_values.append(email.utils.formataddr((name, address)))
    who = ", ".join(r.email for r in recipients)
    check_attachments(attachments, config.smtp.max_attachment_mb, who)
    subject = render_subject(config, summary)

    name = recipients[0].name if len(recipients) == 1 else ""
    context = body_context(config, summary, attachments, name)
    context["subject"] = subject
    env = _environment(str(templates_dir()))
    try:
        text = env.get_template(TEXT_TEMPLATE).render(context)
        html = env.get_template(HTML_TEMPLATE).render(context)
    except jinja2.TemplateError as exc:
        raise DeliveryError(f"email template in {templates_dir()} fails: {exc}") from None

    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = email.utils.formataddr((company, from_addr))
    msg["To"] = ", ".join(to_values)
    msg["Subject"] = subject
    msg["Date"] = email.utils.format_datetime(now or datetime.now(UTC))
    domain = from_addr.rpartition("@")[2]
    msg["Message-ID"] = email.utils.make_msgid(idstring="finrep", domain=domain)
    # RFC 3834: machine-sent, so auto-responders do not reply to the reports mailbox.
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    for path in attachments:
        maintype, subtype = _MIME.get(path.suffix.lower()) or tuple(
            (mimetypes.guess_type(path.name)[0] or "application/octet-stream").split("/", 1)
        )
        msg.add_attachment(
            path.read_bytes(), maintype=maintype, subtype=subtype, filename=path.name
        )
    return msg


def to_eml_bytes(msg: EmailMessage) -> bytes:
    """The message as an RFC 5322 `.eml` file (CRLF line ends, as sent)."""
    return msg.as_bytes(policy=email.policy.SMTP)
