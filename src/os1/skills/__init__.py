"""os1's skills: real work for the user (mail, letters, reminders), as logged actions.

`actions.py` is the seam every skill plugs into; `planner.py` turns a request into one
action call; `conversation.py` answers such a request inside a chat turn. Each skill is a
package of its own (`mail/`, `letters/`, `reminders/`) with its CLI verbs.
"""
