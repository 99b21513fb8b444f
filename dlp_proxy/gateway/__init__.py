"""The gateway: the mitmproxy adapter, and the worker processes inspection runs in.

`addon.DlpAddon` has mitmproxy's addon shape: it turns flows into `core.inspect.Message`s,
hands them to `workers.InspectorPool` (heavy work never runs on mitmproxy's event loop),
applies the decision, logs it and stores incidents. This is the only wing that imports
mitmproxy.
"""
