"""The exceptions of ikz-inbox: one root, a few documented subclasses."""


class IkzInboxError(Exception):
    """Root of every error this package raises on purpose."""


class ConfigError(IkzInboxError):
    """Raised when the configuration file or environment holds an invalid value."""


class ParseError(IkzInboxError):
    """Raised when a message cannot be decoded at all; the message is quarantined."""


class MailboxError(IkzInboxError):
    """Raised when the IMAP server cannot be reached or refuses an operation."""


class ModelError(IkzInboxError):
    """Raised when a trained model is missing, broken or does not match the taxonomy."""


class StoreError(IkzInboxError):
    """Raised when the database is unreachable or its schema is not what we expect."""


class DuplicateContentError(StoreError):
    """Raised by the store when a concurrent writer stored the same content first; the
    caller rolls the transaction back."""


class LockError(IkzInboxError):
    """Raised when another worker already holds the mailbox lock."""


class NotFoundError(IkzInboxError):
    """Raised when a message, question or cluster id named by staff does not exist."""


class StoppedError(IkzInboxError):
    """Raised when the worker processes were stopped (shutdown) under a running poll: the
    batch in hand is not committed, so the next start fetches it again."""


class DeliveryError(IkzInboxError):
    """Raised when the briefing cannot be mailed (SMTP server unreachable or refusing)."""
