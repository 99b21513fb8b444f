"""The pure core: `inspect(message, policy, detector=..., keyring=...) -> Decision`.

`inspect` routes a message to the rules that apply, has `codecs` read every part of it as
segments, asks the detector about them (after `normalize` folds disguises), and applies the
rules' `actions` (redact, encrypt, block), rebuilding the body in its own format and
`compression`. No I/O, no threads, no mitmproxy: the gateway calls it in worker processes, the
tools call it directly.
"""
