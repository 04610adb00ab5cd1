"""Calendar jobs: scheduled drills and their heads-ups, review reminders, report delivery.

Fire times come from APScheduler cron triggers in the organisation's time zone; the loop sleeps on
the engine clock (see `scheduler.py`), and only the leader instance runs the jobs.
"""
