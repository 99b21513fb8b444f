"""The `dlp-proxy` command line: front ends over every other wing.

`main` is the entry point and holds the gateway's, the policies' and the keys' commands;
`incidents` the responders' commands; `console` the responders' web page. Nothing here
inspects, stores or starts anything by itself: each command calls the wing that does.
"""
