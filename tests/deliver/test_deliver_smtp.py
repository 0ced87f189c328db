"""The SMTP session against real aiosmtpd servers on 127.0.0.1: retries, refusals, TLS."""

import datetime as dt
import ipaddress
import ssl
import time
from email.message import EmailMessage

import pytest
from aiosmtpd.smtp import AuthResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from deliver_support import Handler, Received

from finrep.deliver.smtp import Mailer, SmtpSessionError, SmtpSettings
from finrep.errors import ConfigError, DeliveryError


def _message(to="a@example.com") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "reports@example.com"
    msg["To"] = to
    msg["Subject"] = "test"
    msg.set_content("hello")
    return msg


def _settings(config_for, port, **smtp) -> SmtpSettings:
    return SmtpSettings.from_config(config_for(port, **smtp))


def _deliver(settings: SmtpSettings, to=("a@example.com",)):
    with Mailer(settings) as mailer:
        return mailer.send(_message(), list(to))


def test_a_message_is_delivered(smtp_server, config_for):
    server = smtp_server()
    with Mailer(_settings(config_for, server.port)) as mailer:
        outcome = mailer.send(_message(), ["a@example.com"])
    assert outcome.ok and outcome.accepted == ["a@example.com"] and outcome.attempts == 1
    assert [r.rcpt_tos for r in server.received] == [["a@example.com"]]
    assert server.received[0].mail_from == "reports@example.com"


def test_451_then_250_is_retried_with_backoff_and_succeeds(smtp_server, config_for):
    server = smtp_server(Handler(data_failures=2))
    settings = _settings(config_for, server.port, max_attempts=3, retry_delay=0.1)
    start = time.monotonic()
    with Mailer(settings) as mailer:
        outcome = mailer.send(_message(), ["a@example.com"])
    elapsed = time.monotonic() - start
    assert outcome.ok and outcome.attempts == 3
    assert server.handler.data_calls == 3 and len(server.received) == 1
    assert elapsed >= 0.1 + 0.2  # waited 0.1 s, then 0.2 s (exponential backoff)


def test_4xx_that_never_clears_fails_after_max_attempts(smtp_server, config_for):
    server = smtp_server(Handler(data_failures=99))
    with Mailer(_settings(config_for, server.port, max_attempts=3)) as mailer:
        outcome = mailer.send(_message(), ["a@example.com"])
    assert not outcome.ok and outcome.accepted == []
    assert (
        "451" in outcome.failed["a@example.com"]
        and "after 3 attempts" in outcome.failed["a@example.com"]
    )
    assert server.handler.data_calls == 3 and server.received == []


def test_550_is_not_retried(smtp_server, config_for):
    server = smtp_server(Handler(refuse={"gone@example.com"}))
    with Mailer(_settings(config_for, server.port, max_attempts=4)) as mailer:
        outcome = mailer.send(_message(), ["gone@example.com"])
    assert outcome.refused == {"gone@example.com": "550 5.1.1 Mailbox unavailable"}
    assert outcome.attempts == 1 and server.handler.rcpt_calls == 1
    assert server.received == []


def test_554_at_data_is_not_retried(smtp_server, config_for):
    server = smtp_server(Handler(data_failures=5, data_reply="554 5.7.1 Message rejected"))
    with Mailer(_settings(config_for, server.port)) as mailer:
        outcome = mailer.send(_message(), ["a@example.com"])
    assert outcome.refused == {"a@example.com": "554 5.7.1 Message rejected"}
    assert server.handler.data_calls == 1


def test_partial_refusal_is_reported_and_the_rest_delivered(smtp_server, config_for):
    server = smtp_server(Handler(refuse={"gone@example.com"}))
    with Mailer(_settings(config_for, server.port)) as mailer:
        outcome = mailer.send(_message(), ["a@example.com", "gone@example.com", "b@example.com"])
    assert outcome.accepted == ["a@example.com", "b@example.com"]
    assert list(outcome.refused) == ["gone@example.com"] and not outcome.ok
    assert [r.rcpt_tos for r in server.received] == [["a@example.com", "b@example.com"]]


class _Greylist(Handler):
    """Refuses one address with 450 the first time it is seen (greylisting)."""

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        self.rcpt_calls += 1
        if address in self.refuse:
            self.refuse.discard(address)
            return "450 4.2.0 Greylisted, try again"
        envelope.rcpt_tos.append(address)
        return "250 OK"


def test_temporarily_refused_recipient_alone_is_retried(smtp_server, config_for):
    server = smtp_server(_Greylist(refuse={"b@example.com"}))
    with Mailer(_settings(config_for, server.port)) as mailer:
        outcome = mailer.send(_message(), ["a@example.com", "b@example.com"])
    assert outcome.ok and outcome.accepted == ["a@example.com", "b@example.com"]
    # two deliveries: the first to a only, the retry to b only (a does not get it twice)
    assert [r.rcpt_tos for r in server.received] == [["a@example.com"], ["b@example.com"]]


class _DropOnce(Handler):
    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.data_calls += 1
        if self.data_calls == 1:
            server.transport.abort()  # connection dropped mid-transaction
            return "250 never seen"
        self.received.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content)
        )
        return "250 OK"


def test_a_dropped_connection_is_retried_on_a_new_connection(smtp_server, config_for):
    server = smtp_server(_DropOnce())
    with Mailer(_settings(config_for, server.port)) as mailer:
        outcome = mailer.send(_message(), ["a@example.com"])
        second = mailer.send(_message(), ["b@example.com"])  # the new connection is reused
    assert outcome.ok and outcome.attempts == 2 and second.ok and second.attempts == 1
    assert len(server.received) == 2


def test_server_down_is_a_clear_error(config_for, dead_port):
    settings = _settings(config_for, dead_port, max_attempts=2)
    with pytest.raises(SmtpSessionError) as err, Mailer(settings) as mailer:
        mailer.send(_message(), ["a@example.com"])
    message = str(err.value)
    assert f"cannot reach the SMTP server 127.0.0.1:{dead_port} after 2 attempts" in message
    assert "refused" in message.lower() and "--smtp-host" in message


def test_starttls_required_but_not_offered(smtp_server, config_for):
    server = smtp_server()
    with pytest.raises(SmtpSessionError, match="does not offer STARTTLS.*--no-starttls"):
        _deliver(_settings(config_for, server.port, starttls=True))
    assert server.received == []


def test_username_without_password_variable_fails_before_connecting(config_for, monkeypatch):
    monkeypatch.delenv("FINREP_TEST_SMTP_PW", raising=False)
    with pytest.raises(DeliveryError, match="FINREP_TEST_SMTP_PW"):
        _settings(config_for, 25, username="reports", password_env="FINREP_TEST_SMTP_PW")


def test_password_is_never_sent_in_clear_to_a_remote_host(config_for, monkeypatch):
    monkeypatch.setenv("FINREP_TEST_SMTP_PW", "s3cret")
    with pytest.raises(DeliveryError, match="without TLS"):
        _settings(
            config_for,
            25,
            host="smtp.example.com",
            username="reports",
            password_env="FINREP_TEST_SMTP_PW",
        )


def test_a_password_in_the_config_file_is_refused(tmp_path):
    from finrep.config import load_config

    path = tmp_path / "finrep.toml"
    path.write_text('[smtp]\nhost = "smtp.example.com"\npassword = "hunter2"\n')
    with pytest.raises(ConfigError, match="password") as err:
        load_config(path)
    assert "hunter2" not in str(err.value)


# ---- TLS ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1 (key, cert paths)."""
    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_path, cert_path = folder / "key.pem", folder / "cert.pem"
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


def _tls_server(smtp_server, certificate, logins):
    key_path, cert_path = certificate
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)

    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append(
            (auth_data.login.decode(), auth_data.password.decode(), session.ssl is not None)
        )
        return AuthResult(success=auth_data.password == b"s3cret", handled=False)

    return smtp_server(
        Handler(),
        tls_context=context,
        require_starttls=True,
        authenticator=authenticator,
        auth_require_tls=True,
    )


def test_an_unverifiable_certificate_is_refused(smtp_server, config_for, certificate):
    server = _tls_server(smtp_server, certificate, [])
    with pytest.raises(SmtpSessionError, match="cannot be verified"):
        _deliver(_settings(config_for, server.port, starttls=True))
    assert server.received == []


def test_starttls_and_login_with_the_password_from_the_environment(
    smtp_server, config_for, certificate, monkeypatch
):
    logins: list = []
    server = _tls_server(smtp_server, certificate, logins)
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[1]))  # trust our test CA, verify on
    monkeypatch.setenv("FINREP_TEST_SMTP_PW", "s3cret")
    settings = _settings(
        config_for,
        server.port,
        starttls=True,
        username="reports",
        password_env="FINREP_TEST_SMTP_PW",
    )
    with Mailer(settings) as mailer:
        outcome = mailer.send(_message(), ["a@example.com"])
    assert outcome.ok
    assert logins == [("reports", "s3cret", True)]  # logged in over TLS
    assert len(server.received) == 1 and b"s3cret" not in server.received[0].data


def test_a_wrong_password_stops_the_run(smtp_server, config_for, certificate, monkeypatch):
    server = _tls_server(smtp_server, certificate, [])
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[1]))
    monkeypatch.setenv("FINREP_TEST_SMTP_PW", "wrong")
    settings = _settings(
        config_for,
        server.port,
        starttls=True,
        username="reports",
        password_env="FINREP_TEST_SMTP_PW",
    )
    with pytest.raises(SmtpSessionError, match="login .* refused.*FINREP_TEST_SMTP_PW") as err:
        _deliver(settings)
    assert "wrong" not in str(err.value)
