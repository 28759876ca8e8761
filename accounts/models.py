"""Who is calling: the accounts app stores nothing beyond Django's users and DRF's tokens.

Login attempts are counted on the throttles' counter store (accounts/login_throttle.py).
"""
