"""Notifications: Slack messages through a persistent outbox in the state DB.

- policy.py: which results become notifications (pure rules);
- slack.py: Block Kit messages and one webhook delivery attempt;
- outbox.py: the ``outbox`` and ``alert_state`` tables;
- service.py: the Notifier the daemon calls.
"""
