"""Limits that several modules share; nothing of ours is imported here, so any may use it."""

# Default size bound of one message (``max_message_bytes`` of a mailbox, overridable in the
# configuration): a larger message is fetched but quarantined unparsed. 25 MB is about as
# much as the common mail providers let a user send (Gmail: 25 MB), so no ordinary mail to
# the inbox is larger, while the bound caps the memory and time one hostile message may take.
MAX_MESSAGE_BYTES = 25_000_000
