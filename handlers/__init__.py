"""Conversation handlers: citizen and officer dialogs, channel-neutral.

They take an `Inbound` from a channel adapter and produce case changes and outgoing
messages; channels render them (buttons or numbered menus).
"""
