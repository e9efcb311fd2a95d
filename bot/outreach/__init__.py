"""Outreach: when to invite whom, and getting the invitation there exactly once.

``scheduling`` plans one survey per touchpoint event (delay, quiet hours, frequency cap); ``invitations`` is
the one at-most-once send protocol that the clock and deep links both use; ``dispatch`` is the clock's tick
(invitations, reminders, expiry); ``pacing`` keeps to Telegram's per-chat limit.
"""
