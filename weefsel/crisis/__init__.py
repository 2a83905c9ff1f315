"""Crisis mode (issue 15): an opt-in neighbourhood network that says who rings which door
during a long outage, and forgets afterwards.

- :mod:`weefsel.crisis.assign`  k distinct helpers per resident by min-cost flow
- :mod:`weefsel.crisis.store`   encrypted register, consent, activation, audited views, deletion
- :mod:`weefsel.crisis.lists`   printable lists with a SHA-256 checksum, verification
- :mod:`weefsel.crisis.prepare` the five crisis functions per buurt (preparedness)
"""
