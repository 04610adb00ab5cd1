"""notifier: notification and call-tree dispatch daemon driven by an ITSCM plan."""
