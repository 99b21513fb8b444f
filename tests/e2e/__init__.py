"""End-to-end tests: the real proxy as a subprocess between an httpx client and a vendor."""
