"""The extract stage: message kind, new text, questions, sender organisation, event."""
