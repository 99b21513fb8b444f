"""Keys and what is made with them: the data keyring, value tokens, sealed evidence.

`keys` holds the data keyring (states, rotation, owner-only files), `tokens` the `dlp:v1:`
tokens that encrypt values under it, and `sealing` the evidence sealed to responders' X25519
keys. Built on `cryptography` alone; nothing here knows about policies, detection or the proxy.
"""
