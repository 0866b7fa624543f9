"""Pure domain: SLA texts, the office calendar, workflows and their state machines.

Nothing in this package does I/O or imports another project package.
"""
