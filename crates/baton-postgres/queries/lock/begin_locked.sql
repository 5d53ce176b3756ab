-- Begins a transaction already holding one key's lock, in the same round trip. A simple query takes no
-- parameters: {key_lock} is replaced by the key's 64-bit lock id, an integer the store computes.
BEGIN; SELECT pg_advisory_xact_lock({key_lock})
