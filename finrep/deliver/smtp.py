"""SMTP delivery with verified TLS and bounded retries (RELIABILITY.md, Email).

- TLS is verified with `ssl.create_default_context()`; STARTTLS is required unless
  disabled (a local relay); port 465 uses implicit TLS.
- The password is read only from the environment variable named by `smtp.password_env`,
  and is never sent over an unencrypted connection except to a loopback relay.
- 4xx replies, dropped connections and timeouts are retried up to `max_attempts` times with
  exponential backoff from `retry_delay` seconds (2 s, 4 s, 8 s …); 5xx replies are final.
- A message with several recipients may be accepted for some and refused for others: the
  outcome says which, and only the temporarily refused ones are retried.
- One connection is reused for every message of a run.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import smtplib
import socket
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from types import TracebackType

from finrep.config import Config
from finrep.errors import DeliveryError

MAX_BACKOFF = 300.0  # seconds; no single wait is longer


class SmtpSessionError(DeliveryError):
    """The server cannot be used at all (unreachable, TLS, login): stop the whole run."""


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    starttls: bool
    username: str
    password_env: str
    from_addr: str
    timeout: float  # seconds per network operation
    max_attempts: int  # tries per message (1 = no retry)
    retry_delay: float  # seconds before the first retry; doubles each time

    @classmethod
    def from_config(
        cls,
        config: Config,
        *,
        host: str | None = None,
        port: int | None = None,
        starttls: bool | None = None,
        from_addr: str | None = None,
        max_attempts: int | None = None,
        retry_delay: float | None = None,
    ) -> SmtpSettings:
        """`config.smtp`, with the command line's overrides (None: keep the config's)."""
        s = config.smtp
        settings = cls(
            host=s.host if host is None else host,
            port=s.port if port is None else port,
            starttls=s.starttls if starttls is None else starttls,
            username=s.username,
            password_env=s.password_env,
            from_addr=s.from_addr if from_addr is None else from_addr,
            timeout=s.timeout,
            max_attempts=s.max_attempts if max_attempts is None else max_attempts,
            retry_delay=s.retry_delay if retry_delay is None else retry_delay,
        )
        settings.check()
        return settings

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def implicit_tls(self) -> bool:
        return self.port == 465

    def check(self) -> None:
        if not self.host.strip():
            raise DeliveryError("smtp.host is empty; set it in the config or with --smtp-host")
        if not 0 < self.port < 65536:
            raise DeliveryError(f"smtp.port {self.port} is not a TCP port (1–65535)")
        if self.max_attempts < 1:
            raise DeliveryError(f"smtp.max_attempts must be at least 1, not {self.max_attempts}")
        if self.retry_delay < 0 or self.timeout <= 0:
            raise DeliveryError("smtp.retry_delay must be ≥ 0 and smtp.timeout > 0 (seconds)")
        self.password()  # fail before any pack is built, not after

    def password(self) -> str | None:
        """The password from the environment, or None when no login is configured."""
        if not self.username:
            return None
        value = os.environ.get(self.password_env, "")
        if not value:
            raise DeliveryError(
                f"smtp.username is {self.username!r} but the environment variable "
                f"{self.password_env} (smtp.password_env) is not set; export it before "
                "running finrep send (passwords are never read from config files)"
            )
        if not (self.starttls or self.implicit_tls) and not _is_loopback(self.host):
            raise DeliveryError(
                f"refusing to send the SMTP password to {self.where} without TLS; "
                "--no-starttls is only for a local relay without login"
            )
        return value

    def backoff(self, retry: int) -> float:
        """Seconds to wait before retry number `retry` (1, 2, …)."""
        return min(MAX_BACKOFF, self.retry_delay * 2 ** (retry - 1))


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _reply(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code} {' '.join(text.split())}".strip()


@dataclass
class Outcome:
    """What happened to one message, by recipient address."""

    accepted: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)  # permanent (5xx): not retried
    failed: dict[str, str] = field(default_factory=dict)  # still temporary after the retries
    attempts: int = 0

    @property
    def ok(self) -> bool:
        return not self.refused and not self.failed


class _Transient(Exception):
    """A failure worth retrying (4xx, dropped connection, timeout)."""


class Mailer:
    """An SMTP session for a whole run: ``with Mailer(settings) as m: m.send(msg, to)``."""

    def __init__(
        self, settings: SmtpSettings, *, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.settings = settings
        self._sleep = sleep
        self._conn: smtplib.SMTP | None = None

    def __enter__(self) -> Mailer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.quit()
        except (smtplib.SMTPException, OSError):
            conn.close()

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    # ---- connection ---------------------------------------------------------------------
    def _connect(self) -> smtplib.SMTP:
        """Open, secure and log in; `_Transient` for what a retry may fix."""
        if self._conn is not None:
            return self._conn
        s = self.settings
        context = ssl.create_default_context()
        conn: smtplib.SMTP | None = None
        try:
            if s.implicit_tls:
                conn = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=context)
            else:
                conn = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
            conn.ehlo()
            if s.starttls and not s.implicit_tls:
                if not conn.has_extn("starttls"):
                    raise SmtpSessionError(
                        f"the SMTP server {s.where} does not offer STARTTLS; finrep will not "
                        "send unencrypted. Use --no-starttls (or smtp.starttls = false) only "
                        "for a local relay."
                    )
                conn.starttls(context=context)
                conn.ehlo()
            password = s.password()
            if password is not None:
                conn.login(s.username, password)
        except SmtpSessionError:
            _close_quietly(conn)
            raise
        except ssl.SSLCertVerificationError as exc:
            _close_quietly(conn)
            raise SmtpSessionError(
                f"the TLS certificate of {s.where} cannot be verified ({exc.verify_message}); "
                "finrep only talks to servers with a valid certificate for their name"
            ) from None
        except smtplib.SMTPAuthenticationError as exc:
            _close_quietly(conn)
            if 400 <= exc.smtp_code < 500:
                raise _Transient(f"login: {_reply(exc.smtp_code, exc.smtp_error)}") from None
            raise SmtpSessionError(
                f"login to {s.where} as {s.username!r} refused "
                f"({_reply(exc.smtp_code, exc.smtp_error)}); check the password in "
                f"${s.password_env}"
            ) from None
        except smtplib.SMTPNotSupportedError as exc:
            _close_quietly(conn)
            raise SmtpSessionError(f"the SMTP server {s.where} cannot log in: {exc}") from None
        except smtplib.SMTPResponseException as exc:  # incl. SMTPConnectError (greeting)
            _close_quietly(conn)
            reply = _reply(exc.smtp_code, exc.smtp_error)
            if 400 <= exc.smtp_code < 500:
                raise _Transient(reply) from None
            raise SmtpSessionError(
                f"the SMTP server {s.where} refused the session: {reply}"
            ) from None
        except (smtplib.SMTPServerDisconnected, OSError) as exc:  # refused, reset, timeout, DNS
            _close_quietly(conn)
            raise _Transient(_describe_os_error(exc)) from None
        self._conn = conn
        return conn

    # ---- sending ------------------------------------------------------------------------
    def send(self, msg: EmailMessage, to_addrs: Sequence[str]) -> Outcome:
        """Send `msg` to `to_addrs` with retries; never raises for a refused recipient.

        Raises `SmtpSessionError` when the server cannot be used at all (unreachable after
        every attempt, no STARTTLS, bad certificate, login refused).
        """
        s = self.settings
        outcome = Outcome()
        pending = list(dict.fromkeys(to_addrs))
        last_error = ""
        connected_once = False
        for attempt in range(1, s.max_attempts + 1):
            if attempt > 1:
                self._sleep(s.backoff(attempt - 1))
            outcome.attempts = attempt
            try:
                conn = self._connect()
                connected_once = True
                refused = conn.send_message(msg, from_addr=s.from_addr, to_addrs=pending)
                temporary = self._sort_refusals(refused, outcome)
                outcome.accepted += [a for a in pending if a not in refused]
                pending = temporary
                if not pending:
                    break
                last_error = "; ".join(f"{a}: {_reply(*refused[a])}" for a in pending)
            except smtplib.SMTPRecipientsRefused as exc:  # every recipient refused
                pending = self._sort_refusals(exc.recipients, outcome)
                last_error = "; ".join(f"{a}: {_reply(*exc.recipients[a])}" for a in pending)
                if not pending:
                    break
            except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
                reply = _reply(exc.smtp_code, exc.smtp_error)
                if exc.smtp_code == 421:  # the server is closing the connection
                    self._drop()
                if not 400 <= exc.smtp_code < 500:
                    outcome.refused.update({a: reply for a in pending})
                    pending = []
                    break
                last_error = reply
            except smtplib.SMTPNotSupportedError as exc:
                outcome.refused.update({a: f"not supported by the server: {exc}" for a in pending})
                pending = []
                break
            except smtplib.SMTPResponseException as exc:
                reply = _reply(exc.smtp_code, exc.smtp_error)
                self._drop()
                if not 400 <= exc.smtp_code < 500:
                    outcome.refused.update({a: reply for a in pending})
                    pending = []
                    break
                last_error = reply
            except _Transient as exc:
                last_error = str(exc)
            except (smtplib.SMTPServerDisconnected, OSError) as exc:
                self._drop()
                last_error = _describe_os_error(exc)
        if pending:
            if not connected_once:
                raise SmtpSessionError(
                    f"cannot reach the SMTP server {s.where} after {outcome.attempts} "
                    f"attempt{'s' if outcome.attempts != 1 else ''}: {last_error}. Check "
                    "smtp.host and smtp.port (or --smtp-host / --smtp-port) and that the "
                    "server is running."
                )
            outcome.failed.update(
                {a: f"{last_error} (after {outcome.attempts} attempts)" for a in pending}
            )
        return outcome

    @staticmethod
    def _sort_refusals(refused: dict[str, tuple[int, bytes]], outcome: Outcome) -> list[str]:
        """Record permanent refusals in `outcome`; return the temporarily refused addresses."""
        temporary = []
        for address, (code, text) in refused.items():
            if 400 <= code < 500:
                temporary.append(address)
            else:
                outcome.refused[address] = _reply(code, text)
        return temporary


def _close_quietly(conn: smtplib.SMTP | None) -> None:
    if conn is not None:
        with contextlib.suppress(OSError):
            conn.close()


def _describe_os_error(exc: BaseException) -> str:
    if isinstance(exc, socket.timeout | TimeoutError):
        return "timed out (smtp.timeout)"
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return f"connection dropped ({exc or 'server disconnected'})"
    return str(exc) or type(exc).__name__
