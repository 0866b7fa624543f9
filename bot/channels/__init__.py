"""Channel adapters, one module per channel, each holding both directions:
verify + parse a webhook into an Inbound, and send an outbox row through the provider.
"""
