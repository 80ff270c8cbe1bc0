"""The `certrenew` subcommands, one module each.

Every module here defines ``register(commands)``, which adds its subparser and
sets ``handler`` on it. Registration must stay cheap: a module imports what its
command needs inside the handler, so that ``certrenew --help`` and a fast
command do not pay for Dramatiq, APScheduler or the sandbox.
"""
