"""Tools for compliance staff, over the pure core: policy tests, policy diffs, explanations.

`cases` runs a policy's test files (`dlp-proxy policy test`), `diff` compares two versions of
a policy by their structure and by what they do to the test cases (`policy diff`), and
`explain` shows findings and each rule's outcome for one payload (`scan`, `explain`). They
call `core.inspect` directly; nothing here starts a proxy.
"""
