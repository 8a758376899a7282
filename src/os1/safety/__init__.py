"""Safety, honesty and wellbeing: what os1 checks on every turn, whatever the model says.

The model is asked to behave (the constitution in the persona, a note on the turn); the
guard then makes sure of the parts that must never fail: crisis resources, saying it is an
AI, a clean goodbye. See docs/safety.md for the written protocol.
"""
