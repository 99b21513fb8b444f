"""What the gateway remembers: the decision log, and every blocked transfer as an incident.

`audit` writes the decision and incident logs (JSON lines, never a raw value); `store` keeps
incidents in a hash-chained SQLite file that `verify` checks; `evidence` is what an incident
keeps of the blocked message, sealed (`crypto.sealing`) to the public keys in `responders`.
"""
