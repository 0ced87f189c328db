"""Errors finrep raises. The CLI turns each into `Error: <message>` and exit code 1.

Messages say what is wrong, where (file, row, column, value) and how to fix it.
"""


class FinrepError(Exception):
    """Base class of every error finrep reports to a user (never a traceback)."""


class ConfigError(FinrepError):
    """A configuration file or option is wrong."""


class DataError(FinrepError):
    """Input data cannot be read or is not fit to report on."""


class RenderError(FinrepError):
    """A PDF or workbook cannot be produced."""


class DeliveryError(FinrepError):
    """A pack cannot be delivered (SMTP, attachments, recipients)."""
