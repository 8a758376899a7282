"""Check-ins: os1 speaking first.

A follow-up on something the user said was coming ("how did the interview go?"), a date from
memory, a stretch of low days, a long silence, and reminders the user asked for. What may be
said, and when, is the policy's (quiet hours, a daily limit, "not now", a gap between two);
the words are the messages' (warm, short, never guilt or pressure). `CheckIns` is the one
facade the rest of os1 uses.
"""
