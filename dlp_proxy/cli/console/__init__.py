"""`dlp-proxy console`: the responders' web page (`server`) and the files it serves (`static/`)."""
