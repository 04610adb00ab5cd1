"""Plan upkeep: contact review reminders and their replies, one-off messages outside activations."""
