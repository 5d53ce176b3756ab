-- What a crash may leave of leases whose last keepalives it took back: expiries already passed.
UPDATE leases SET expires_at = 1
